import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { JWK } from "jose";
import { verifySchedule } from "../../calendar/schedule/schedule.ts";
import { api, configure, enc, restartLedger, testEnv, wipeLedger } from "./helpers.ts";
import { retainedMatching } from "./mqtt-tap.ts";
import { appIcs, davServers, type DavServer } from "./dav.ts";

/**
 * Who wins an overlap is the order in which the ledger first saw each
 * reservation, never the CREATED a calendar app claims; verdicts survive a
 * ledger restart. On both real CalDAV servers.
 */
const E = env as unknown as { LEDGER: DurableObjectNamespace };
const SITE = `p${crypto.randomUUID().slice(0, 6)}`;
const SERVERS = davServers();
const CASES = ["back", "series", "chain"] as const;
const cal = new Map<string, string>();
const res = (s: DavServer, c: (typeof CASES)[number]) => `${s.name}-${c}`;

const HOUR = 3_600_000;
// Whole hours, two days ahead: iCalendar has second precision, and nothing here is running yet.
const BASE = Math.ceil(Date.now() / HOUR) * HOUR + 48 * HOUR;
/** Within the schedule window (24 h), so the signed schedule shows who holds it. */
const NEAR = -46;
const at = (h: number) => new Date(BASE + h * HOUR);
const iso = (h: number) => at(h).toISOString();
const BACKDATED = new Date("2019-03-01T08:00:00Z");
let publicJwk: JWK;
const scheduleIds = async (jws: string, r: string) => (await verifySchedule(jws, { keys: { [publicJwk.kid!]: publicJwk }, resources: [r] })).entries.map((e) => e.id).sort();

beforeAll(async () => {
  const calendars: string[] = [];
  const resources: string[] = [];
  for (const s of SERVERS) {
    for (const c of CASES) {
      const url = await s.mkcalendar(`${SITE}-${c}`);
      cal.set(res(s, c), url);
      calendars.push(`  ${res(s, c)}: ${s.calendarYaml(url)}`);
      resources.push(`  ${res(s, c)}: { kind: host }`);
    }
  }
  // A long sync interval: the tests say when the ledger syncs (syncNow), so every step is deterministic.
  ({ publicJwk } = await configure({ RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD }, { site: SITE, calendars: calendars.join("\n"), resources: resources.join("\n"), syncInterval: "1h" }));
});

const ledger = (r: string) => E.LEDGER.get(E.LEDGER.idFromName(r)) as unknown as { syncNow(r: string): Promise<{ ok: boolean; value?: boolean; error?: unknown }> };
async function syncNow(r: string): Promise<void> {
  const out = await ledger(r).syncNow(r);
  expect(out).toMatchObject({ ok: true });
}
async function list(r: string): Promise<any[]> {
  const a = await api("GET", `/api/v1/reservations?resource=${r}&from=${enc(iso(NEAR - 1))}&to=${enc(iso(24 * 6))}`);
  expect(a.status).toBe(200);
  return a.body.reservations;
}
async function book(r: string, from: number, to: number): Promise<any> {
  const a = await api("POST", "/api/v1/reservations", { resource: r, start: iso(from), end: iso(to), purpose: `booked ${from}-${to}` });
  expect(a.status).toBe(201);
  return a.body.reservation;
}
const verdicts = (rs: any[]) => Object.fromEntries(rs.map((r) => [r.recurrenceId ? `${r.uid}@${r.recurrenceId}` : r.uid, r.state]));

describe.each(SERVERS)("first seen wins, on $name", (s) => {
  it("a back-dated app event overlapping a granted booking is the one marked conflict", async () => {
    const r = res(s, "back");
    expect(await list(r)).toEqual([]);
    const granted = await book(r, NEAR + 1, NEAR + 3);
    const uid = `ical-${crypto.randomUUID()}`;
    expect((await s.put(cal.get(r)!, uid, appIcs({ uid, start: at(NEAR + 2), end: at(NEAR + 4), summary: "bob's migration", organizer: "bob@example.com", created: BACKDATED }))).status).toBe(201);
    await syncNow(r);
    const rs = await list(r);
    expect(verdicts(rs)).toEqual({ [granted.uid]: "upcoming", [uid]: "conflict" });
    expect(rs.find((x) => x.uid === uid).conflictWith).toEqual([granted.uid]);
    const ics = await s.get(cal.get(r)!, uid);
    expect(ics).toMatch(/X-LABHOG-STATE:conflict/i);
    expect(ics).toMatch(/SUMMARY:\[conflict\] bob's migration/);
    // More syncs change nothing.
    await syncNow(r);
    expect(verdicts(await list(r))).toEqual({ [granted.uid]: "upcoming", [uid]: "conflict" });
    // The agent keeps enforcing the granted booking: the signed schedule holds it, not the back-dated event.
    const m = await retainedMatching(`test/${SITE}/resources/${r}/schedule`, async (p) => (await scheduleIds(p, r)).includes(granted.uid), 30_000);
    expect(await scheduleIds(m.payload, r)).toEqual([granted.uid]);

    // Even a ledger that lost its storage (wiped, migrated) keeps the verdict: the calendar's marks break the tie.
    await wipeLedger(E.LEDGER, r);
    expect(verdicts(await list(r))).toEqual({ [granted.uid]: "upcoming", [uid]: "conflict" });
  });

  it("a recurring app series overlapping single bookings: only the overlapping occurrences are marked", async () => {
    const r = res(s, "series");
    await list(r);
    const b1 = await book(r, 24 + 1, 24 + 2);
    const b3 = await book(r, 72 + 0.5, 72 + 3);
    const uid = `series-${crypto.randomUUID()}`;
    expect((await s.put(cal.get(r)!, uid, appIcs({ uid, start: at(0), end: at(1.5), rrule: "FREQ=DAILY;COUNT=5", summary: "nightly regression", organizer: "bob@example.com", created: BACKDATED }))).status).toBe(201);
    await syncNow(r);
    const rs = await list(r);
    const occ = (d: number) => `${uid}@${iso(24 * d)}`;
    expect(verdicts(rs)).toEqual({
      [b1.uid]: "upcoming",
      [b3.uid]: "upcoming",
      [occ(0)]: "upcoming",
      [occ(1)]: "conflict",
      [occ(2)]: "upcoming",
      [occ(3)]: "conflict",
      [occ(4)]: "upcoming",
    });
    const ics = await s.get(cal.get(r)!, uid);
    // The marks are on the two occurrences (overrides), not on the series.
    expect(ics.match(/X-LABHOG-STATE:conflict/gi)).toHaveLength(2);
  });

  it("a chain of three keeps every verdict, across a winner leaving and a ledger restart", async () => {
    const r = res(s, "chain");
    await list(r);
    const a = await book(r, 1, 3);
    const uidB = `chain-b-${crypto.randomUUID()}`;
    expect((await s.put(cal.get(r)!, uidB, appIcs({ uid: uidB, start: at(2), end: at(5), summary: "long soak", organizer: "bob@example.com", created: BACKDATED }))).status).toBe(201);
    await syncNow(r);
    // B lost, so it blocks nobody: C (overlapping only B) is granted.
    const c = await book(r, 4, 6);
    const expected = { [a.uid]: "upcoming", [uidB]: "conflict", [c.uid]: "upcoming" };
    expect(verdicts(await list(r))).toEqual(expected);

    // A goes away: B was seen before C, but C stood non-conflicting, so B keeps losing (now to C).
    expect((await api("DELETE", `/api/v1/reservations/${enc(a.id)}`)).status).toBe(200);
    await syncNow(r);
    const after = await list(r);
    expect(verdicts(after)).toEqual({ [uidB]: "conflict", [c.uid]: "upcoming" });
    expect(after.find((x) => x.uid === uidB).conflictWith).toEqual([c.uid]);

    // Restart: the ledger's instance is torn down (storage kept); the next call builds a new one.
    let stub = E.LEDGER.get(E.LEDGER.idFromName(r));
    await runInDurableObject(stub, (instance) => {
      (instance as unknown as Record<string, unknown>).__beforeRestart = true;
    });
    await restartLedger(E.LEDGER, r);
    stub = E.LEDGER.get(E.LEDGER.idFromName(r));
    await runInDurableObject(stub, (instance) => {
      expect((instance as unknown as Record<string, unknown>).__beforeRestart).toBeUndefined();
    });
    expect(verdicts(await list(r))).toEqual({ [uidB]: "conflict", [c.uid]: "upcoming" });
    await syncNow(r);
    expect(verdicts(await list(r))).toEqual({ [uidB]: "conflict", [c.uid]: "upcoming" });
    // The order lives in storage: B was seen (its sync) before C was granted.
    const seen: Record<string, { batch: number; won?: boolean }> = await runInDurableObject(stub, async (_i, state) => Object.fromEntries(await state.storage.list<{ batch: number; won?: boolean }>({ prefix: "seen:" })));
    expect(seen[`seen:${uidB}`]).toMatchObject({ won: false });
    expect(seen[`seen:${c.uid}`]).toMatchObject({ won: true });
    expect(seen[`seen:${uidB}`]!.batch).toBeLessThan(seen[`seen:${c.uid}`]!.batch);
  });
});
