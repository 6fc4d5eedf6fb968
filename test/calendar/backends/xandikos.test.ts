import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaldavBackend, type CaldavOptions } from "../../../calendar/backends/caldav/backend.ts";
import { startXandikos, type XandikosService } from "../../services/xandikos.ts";
import { backendContract } from "../contract/backend-contract.ts";
import { caldavSpecifics } from "../contract/caldav-specifics.ts";

let xandikos: XandikosService;
beforeAll(async () => { xandikos = await startXandikos(); });
afterAll(async () => { await xandikos?.stop(); });

async function fresh(extra: Partial<CaldavOptions> = {}) {
  const name = `cal-${crypto.randomUUID().slice(0, 8)}`;
  const backend = await CaldavBackend.connect({ serverUrl: xandikos.url, calendar: name, createCalendar: true, ...extra });
  return {
    backend,
    cleanup: async () => { await (await fetch(backend.info.url, { method: "DELETE" })).arrayBuffer(); },
  };
}

backendContract("caldav (Xandikos, sync-collection)", () => fresh());
backendContract("caldav (Xandikos, ctag/etag fallback)", () => fresh({ syncMethod: "ctag" }));
// Xandikos runs without authentication here, so the bad-credentials case is Radicale's alone.
caldavSpecifics("Xandikos", (extra) => fresh(extra), { authenticates: false });

describe("caldav discovery on Xandikos", () => {
  it("discovers the default calendar from the server URL (principal → home set → calendars)", async () => {
    const b = await CaldavBackend.connect({ serverUrl: xandikos.url, calendar: "calendar" });
    expect(b.info.url).toBe(xandikos.calendarUrl);
    expect(b.syncMethod).toBe("sync-collection");
  });
});
