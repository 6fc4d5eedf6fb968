import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaldavBackend, type CaldavOptions } from "../../../calendar/backends/caldav/backend.ts";
import { CalendarAuthError, NotFoundError } from "../../../calendar/errors.ts";
import { startRadicale, type RadicaleService } from "../../services/radicale.ts";
import { backendContract } from "../contract/backend-contract.ts";
import { caldavSpecifics } from "../contract/caldav-specifics.ts";

let radicale: RadicaleService;
beforeAll(async () => { radicale = await startRadicale(); });
afterAll(async () => { await radicale?.stop(); });

const auth = () => "Basic " + btoa(`${radicale.username}:${radicale.password}`);

async function fresh(extra: Partial<CaldavOptions> = {}) {
  const name = `cal-${crypto.randomUUID().slice(0, 8)}`;
  const backend = await CaldavBackend.connect({ serverUrl: radicale.url, username: radicale.username, password: radicale.password, calendar: name, createCalendar: true, ...extra });
  return {
    backend,
    cleanup: async () => { await (await fetch(backend.info.url, { method: "DELETE", headers: { Authorization: auth() } })).arrayBuffer(); },
  };
}

backendContract("caldav (Radicale, sync-collection)", () => fresh());
backendContract("caldav (Radicale, ctag/etag fallback)", () => fresh({ syncMethod: "ctag" }));
caldavSpecifics("Radicale", (extra) => fresh(extra));

describe("caldav discovery on Radicale", () => {
  it("finds a calendar by display name and by URL, creates one only when asked", async () => {
    const made = await fresh();
    try {
      const byName = await CaldavBackend.connect({ serverUrl: radicale.url, username: radicale.username, password: radicale.password, calendar: made.backend.info.displayName! });
      expect(byName.info.url).toBe(made.backend.info.url);
      const byUrl = await CaldavBackend.connect({ serverUrl: radicale.url, username: radicale.username, password: radicale.password, calendar: new URL(made.backend.info.url).pathname });
      expect(byUrl.info.url).toBe(made.backend.info.url);
      await expect(CaldavBackend.connect({ serverUrl: radicale.url, username: radicale.username, password: radicale.password, calendar: "no-such-calendar" })).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      await made.cleanup();
    }
  });

  it("refuses bad credentials with CalendarAuthError (calendar credentials refused, 502)", async () => {
    await expect(CaldavBackend.connect({ serverUrl: radicale.url, username: radicale.username, password: "wrong", authCooldownMs: 0 })).rejects.toBeInstanceOf(CalendarAuthError);
  });
});
