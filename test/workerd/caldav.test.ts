/**
 * The caldav backend inside workerd against the real Radicale and Xandikos
 * the global setup started: the same contract and CalDAV specifics as in Node.
 */
import { env } from "cloudflare:test";
import { CaldavBackend, type CaldavOptions } from "../../calendar/backends/caldav/backend.ts";
import { MemoryBackend } from "../../calendar/backends/memory.ts";
import { backendContract } from "../calendar/contract/backend-contract.ts";
import { caldavSpecifics } from "../calendar/contract/caldav-specifics.ts";
import { hangingSpecifics } from "../calendar/contract/hanging-specifics.ts";

const e = env as unknown as Record<string, string>;
const radicale = { url: e.TEST_RADICALE_URL!, username: e.TEST_RADICALE_USER!, password: e.TEST_RADICALE_PASSWORD! };
const xandikosUrl = e.TEST_XANDIKOS_URL!;

async function onRadicale(extra: Partial<CaldavOptions> = {}) {
  // workerd cannot send MKCALENDAR (workerd#6877): this also exercises the extended-MKCOL fallback.
  const backend = await CaldavBackend.connect({ serverUrl: radicale.url, username: radicale.username, password: radicale.password, calendar: `wd-${crypto.randomUUID().slice(0, 8)}`, createCalendar: true, ...extra });
  return {
    backend,
    cleanup: async () => { await (await fetch(backend.info.url, { method: "DELETE", headers: { Authorization: "Basic " + btoa(`${radicale.username}:${radicale.password}`) } })).arrayBuffer(); },
  };
}

async function onXandikos(extra: Partial<CaldavOptions> = {}) {
  const backend = await CaldavBackend.connect({ serverUrl: xandikosUrl, calendar: `wd-${crypto.randomUUID().slice(0, 8)}`, createCalendar: true, ...extra });
  return { backend, cleanup: async () => { await (await fetch(backend.info.url, { method: "DELETE" })).arrayBuffer(); } };
}

// The memory backend is the Worker's embedded default; the reference runs here too.
backendContract("memory in workerd (reference)", async () => ({ backend: new MemoryBackend(), cleanup: async () => {} }));
backendContract("caldav in workerd (Radicale)", () => onRadicale());
backendContract("caldav in workerd (Xandikos)", () => onXandikos());
caldavSpecifics("Radicale in workerd", (extra) => onRadicale(extra));
caldavSpecifics("Xandikos in workerd", (extra) => onXandikos(extra), { authenticates: false });
// Real TCP listeners the global setup started in Node (workerd can't listen): see test/calendar/hanging-server.ts.
hangingSpecifics("Radicale in workerd", (extra) => onRadicale(extra), { silent: { url: inject("hangingSilentUrl") }, trickle: { url: inject("hangingTrickleUrl") } });

import { describe, expect, inject, it } from "vitest";
import { CalendarAuthError } from "../../calendar/errors.ts";
import { icsEvent, testUid } from "../calendar/contract/ics-builder.ts";

describe("Radicale's early 401 + close, seen from workerd", () => {
  // Radicale (HTTP/1.0) answers 401 without reading the body and closes; with a
  // body over ~64 KiB the reset can eat the response and workerd reports
  // "Network connection lost" (workerd#1741). The backend must still say
  // "calendar credentials refused", every time, whichever way the answer arrived.
  it("30 large writes with wrong credentials: all CalendarAuthError", async () => {
    const losses: unknown[] = [];
    let wrong = false;
    const f: typeof fetch = (input, init) => {
      if (!wrong) return fetch(input, init);
      const h = new Headers(init?.headers);
      h.set("Authorization", "Basic " + btoa(`${radicale.username}:wrong`));
      return fetch(input, { ...init, headers: h });
    };
    // No cool-down, so every write goes to the server and shows the classification.
    const s = await onRadicale({ fetch: f, authCooldownMs: 0, retry: { baseDelayMs: 10 }, log: (l) => { if (l.msg === "caldav connection lost") losses.push(l); } });
    try {
      wrong = true;
      const start = new Date(Date.UTC(2030, 0, 1));
      for (let i = 0; i < 30; i++) {
        const uid = testUid("big");
        await expect(s.backend.create(uid, icsEvent({ uid, start, end: new Date(start.getTime() + 3_600_000), description: "x".repeat(1_000_000) }))).rejects.toBeInstanceOf(CalendarAuthError);
      }
      console.log(`connection losses seen and still answered as CalendarAuthError: ${losses.length} of 30`);
    } finally {
      wrong = false;
      await s.cleanup();
    }
  }, 120_000);
});

describe("Radicale's closed connections, seen from workerd", () => {
  // Radicale answers HTTP/1.0 and closes after every answer, yet workerd (as wrangler
  // dev runs it: `npm run bench worker` met one in six bookings) keeps the connection
  // in its pool, and the next request on it fails at once with "Network connection
  // lost" (cloudflare/workers-sdk#14641). The test pool's fetch goes through Node and
  // never meets it, so here every other request fails the way workerd's does, before
  // it is sent. Such a loss is retried at once on a fresh connection, not after a
  // backoff of up to 100 ms (what made a booking's p99).
  it("sequential writes over connections that were closed under us: every one lands, retried without waiting", async () => {
    const lines: Array<{ msg: string; attempt?: number; delayMs?: number }> = [];
    let n = 0;
    const staleEveryOther: typeof fetch = (input, init) => (n++ % 2 === 0 ? Promise.reject(new Error("Network connection lost.")) : fetch(input, init));
    const s = await onRadicale({ log: (l) => lines.push(l as (typeof lines)[number]) });
    const w = await CaldavBackend.connect({ serverUrl: radicale.url, username: radicale.username, password: radicale.password, calendar: s.backend.info.url, fetch: staleEveryOther, log: (l) => lines.push(l as (typeof lines)[number]) });
    try {
      const start = new Date(Date.UTC(2031, 0, 1));
      for (let i = 0; i < 10; i++) {
        const uid = testUid("seq");
        const at = new Date(start.getTime() + i * 3_600_000);
        const obj = await w.create(uid, icsEvent({ uid, start: at, end: new Date(at.getTime() + 1_800_000) }));
        expect(obj.etag).toBeTruthy();
        // Landed once, as written.
        expect((await s.backend.get(obj.id)).etag).toBe(obj.etag);
      }
      const retries = lines.filter((l) => l.msg === "caldav retry");
      expect(retries.length).toBeGreaterThanOrEqual(10);
      expect(retries.map((r) => [r.attempt, r.delayMs])).toEqual(retries.map(() => [1, 0]));
    } finally {
      await s.cleanup();
    }
  }, 60_000);
});
