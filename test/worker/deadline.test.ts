import { env } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { api, configure, labYaml, testEnv } from "./helpers.ts";
import { appIcs, davServers } from "./dav.ts";
import { serverTimings } from "../../worker/api/server-timing.ts";

/**
 * A calendar server that accepts and never answers, or trickles bytes, or
 * answers after labhog stopped waiting: real sockets (stall-proxy.ts, a TCP
 * front for Radicale). Bookings answer 503 with Retry-After at the lab's
 * calendarDeadline, reads keep answering from the cache (marked stale once a
 * few sync intervals passed), and a create the server finished too late is
 * removed, since its caller was told no.
 */
const E = env as unknown as { LEDGER: DurableObjectNamespace };
const SITE = `d${crypto.randomUUID().slice(0, 6)}`;
const radicale = davServers()[0]!;
const STALL = inject("stallUrl");
const CONTROL = inject("stallControlUrl");
const DEADLINE_S = 2;
let collection = "";
let appUid = "";

async function mode(m: "pass" | "hang" | "trickle" | "late", ms = 0): Promise<void> {
  expect((await fetch(`${CONTROL}${m}?ms=${ms}`)).status).toBe(204);
}
async function lab(syncInterval: string, vars: Record<string, string> = {}): Promise<void> {
  const path = new URL(collection).pathname;
  const yaml = labYaml({ site: SITE, mqtt: false, syncInterval, resources: "  stalled: { kind: host }", calendars: `  stalled: { backend: caldav, url: "${STALL}", calendar: "${STALL}${path.slice(1)}", username: ${testEnv.TEST_RADICALE_USER}, passwordSecret: RADICALE_PASSWORD }` });
  await configure({ ...vars, RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD, LAB_CONFIG: yaml.replace(/(policy:\n  syncInterval: .*\n)/, `$1  calendarDeadline: ${DEADLINE_S}s\n`) });
}
const syncNow = async () => (E.LEDGER.get(E.LEDGER.idFromName("stalled")) as unknown as { syncNow(r: string): Promise<{ ok: boolean }> }).syncNow("stalled");
/** Every event UID in the collection, read from Radicale itself (not through the stall). */
async function uidsInRadicale(): Promise<string[]> {
  const r = await fetch(collection, { method: "PROPFIND", headers: { authorization: "Basic " + btoa(`${testEnv.TEST_RADICALE_USER}:${testEnv.TEST_RADICALE_PASSWORD}`), depth: "1" } });
  return [...(await r.text()).matchAll(/\/([^/<]+)\.ics</g)].map((m) => decodeURIComponent(m[1]!)).sort();
}
async function timedBook(purpose: string): Promise<{ status: number; ms: number; body: any; retryAfter: string | null }> {
  const t0 = Date.now();
  const r = await api("POST", "/api/v1/reservations", { resource: "stalled", duration: "1h", purpose });
  return { status: r.status, ms: Date.now() - t0, body: r.body, retryAfter: r.headers.get("retry-after") };
}

beforeAll(async () => {
  collection = await radicale.mkcalendar(`${SITE}-stalled`);
  appUid = `app-${crypto.randomUUID()}`;
  const now = Math.floor(Date.now() / 1000) * 1000;
  expect((await radicale.put(collection, appUid, appIcs({ uid: appUid, start: new Date(now + 3 * 3_600_000), end: new Date(now + 4 * 3_600_000), summary: "soak", organizer: "bob@example.com", created: new Date(now) }))).status).toBe(201);
  await mode("pass");
});

describe("a calendar server that stalls", () => {
  for (const stall of ["hang", "trickle"] as const) {
    it(`${stall}: bookings answer 503 with Retry-After at the deadline, the queue moves on, reads answer from the cache, nothing is written`, async () => {
      await mode("pass");
      await lab("1s");
      const first = await api("GET", "/api/v1/resources/stalled");
      expect(first.status).toBe(200);
      expect(first.body.next).toMatchObject({ uid: appUid });
      const before = await uidsInRadicale();

      await mode(stall);
      // Three bookings at once: each waits at most for the one calendar call ahead of it and its own.
      const answers = await Promise.all([timedBook(`${stall} 1`), timedBook(`${stall} 2`), timedBook(`${stall} 3`)]);
      for (const a of answers) {
        expect(a.status).toBe(503);
        expect(a.body.type).toMatch(/calendar-timeout$/);
        expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      }
      // Reads never wait for the calendar: the cached view, stale once three sync intervals passed.
      const r0 = Date.now();
      let view = await api("GET", "/api/v1/resources/stalled");
      const readMs = Date.now() - r0;
      for (let i = 0; i < 60 && !view.body.stale; i++) {
        await new Promise((r) => setTimeout(r, 250));
        view = await api("GET", "/api/v1/resources/stalled");
      }
      expect(view.status).toBe(200);
      expect(view.body).toMatchObject({ stale: true, next: { uid: appUid } });
      expect(view.body.unreachableSince).not.toBeNull();
      expect(await uidsInRadicale()).toEqual(before);
      console.log(JSON.stringify({ bench: "booking under a stalled calendar", stall, deadlineMs: DEADLINE_S * 1000, bookingMs: answers.map((a) => a.ms), readMs }));
    }, 60_000);
  }

  it("late: a create the server finished after labhog gave up is removed at the next sync", async () => {
    await mode("pass");
    await lab("1h");
    expect(await syncNow()).toMatchObject({ ok: true });
    const before = await uidsInRadicale();
    await mode("late", (DEADLINE_S + 2) * 1000);
    const a = await timedBook("too late");
    expect(a.status).toBe(503);
    // The server did write it.
    let after = await uidsInRadicale();
    for (let i = 0; i < 40 && after.length === before.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await uidsInRadicale();
    }
    const orphan = after.filter((u) => !before.includes(u));
    expect(orphan).toHaveLength(1);
    await mode("pass");
    expect(await syncNow()).toMatchObject({ ok: true });
    expect(await uidsInRadicale()).toEqual(before);
    const list = await api("GET", "/api/v1/reservations?resource=stalled");
    expect(list.body.reservations.map((r: any) => r.uid)).toEqual([appUid]);
    // The calendar answers again: bookings do too.
    expect((await timedBook("after")).status).toBe(201);
  }, 60_000);
});

describe("a sync after bookings", () => {
  it("fetches no calendar data for the ledger's own writes, only for what someone else changed", async () => {
    await lab("1h");
    await mode("pass");
    const count = async (text: string) => Number(await (await fetch(`${CONTROL}count?text=${encodeURIComponent(text)}`)).text());
    const clear = async () => expect((await fetch(`${CONTROL}clear`)).status).toBe(204);
    expect(await syncNow()).toMatchObject({ ok: true });
    for (const h of [10, 12]) expect((await api("POST", "/api/v1/reservations", { resource: "stalled", start: new Date(Date.now() + h * 3_600_000).toISOString(), duration: "1h", purpose: `own ${h}` })).status).toBe(201);
    await clear();
    expect(await syncNow()).toMatchObject({ ok: true });
    // The change log was asked (sync-collection) and named both bookings; their data was not fetched again.
    expect(await count(":sync-collection xmlns")).toBe(1);
    expect(await count(":calendar-multiget xmlns")).toBe(0);
    // An event written by someone else is fetched, and shows.
    const uid = `app-${crypto.randomUUID()}`;
    const now = Math.floor(Date.now() / 1000) * 1000;
    expect((await radicale.put(collection, uid, appIcs({ uid, start: new Date(now + 30 * 3_600_000), end: new Date(now + 31 * 3_600_000), summary: "theirs", organizer: "bob@example.com", created: new Date(now) }))).status).toBe(201);
    await clear();
    expect(await syncNow()).toMatchObject({ ok: true });
    expect(await count(":calendar-multiget xmlns")).toBe(1);
    expect(await count(`${uid}.ics`)).toBe(1);
    const list = await api("GET", "/api/v1/reservations?resource=stalled");
    expect(list.body.reservations.map((r: any) => r.uid)).toContain(uid);
  }, 30_000);
});

describe("Server-Timing on a booking (SERVER_TIMING=on)", () => {
  it("puts a calendar that answers 700 ms late under `calendar`, inside the ledger's time, inside the Worker's; off by default", async () => {
    await lab("1h", { SERVER_TIMING: "on" });
    await mode("pass");
    expect(await syncNow()).toMatchObject({ ok: true });
    await mode("late", 700);
    let r;
    try {
      r = await api("POST", "/api/v1/reservations", { resource: "stalled", start: new Date(Date.now() + 20 * 3_600_000).toISOString(), duration: "1h", purpose: "timed" });
    } finally {
      await mode("pass");
    }
    expect(r.status).toBe(201);
    const t = serverTimings(r.headers.get("server-timing"));
    expect(Object.keys(t).sort()).toEqual(["calendar", "ledger", "ledger-op", "total"]);
    expect(t.calendar).toBeGreaterThanOrEqual(700);
    expect(t["ledger-op"]).toBeGreaterThanOrEqual(t.calendar!);
    expect(t.ledger).toBeGreaterThanOrEqual(t["ledger-op"]!);
    expect(t.total).toBeGreaterThanOrEqual(t.ledger!);

    await lab("1h");
    const off = await api("POST", "/api/v1/reservations", { resource: "stalled", start: new Date(Date.now() + 22 * 3_600_000).toISOString(), duration: "1h", purpose: "untimed" });
    expect(off.status).toBe(201);
    expect(off.headers.get("server-timing")).toBeNull();
  }, 30_000);
});
