/**
 * Statistics over a fixture week (fixture-week.ts), through the calendar
 * mapping and computeStats: every number equals the table computed by hand.
 * test/worker/stats-api.test.ts checks the same table through real Radicale
 * and GET /api/v1/stats.
 */
import { describe, expect, it } from "vitest";
import { reservationsFromIcs } from "../../calendar/ical/index.ts";
import { resolveConflicts } from "../../calendar/conflicts.ts";
import type { Reservation } from "../../calendar/model.ts";
import { computeStats, usedInWindow, type StatsBy } from "../../worker/stats/compute.ts";
import { EXPECTED, FIXTURE_RESOURCES, fixtureWeek } from "./fixture-week.ts";

const W = Date.parse("2026-05-04T00:00:00Z");
const DAY = 86_400_000;
const users = ["alice", "bob", "carol"].map((id) => ({ id, email: `${id}@example.com`, unix: [id], sshKeys: [], groups: [] }));

function reservations(now: number): Reservation[] {
  const week = fixtureWeek(W, "t");
  const out: Reservation[] = [];
  for (const [resource, events] of Object.entries(week)) {
    const rs = events.flatMap((e) => reservationsFromIcs(e.ics, { resource, timezone: "UTC", users, now: new Date(now) }, { start: new Date(W - 7 * DAY), end: new Date(W + 14 * DAY) }, e.uid));
    // What the ledger does: losers of a conflict are marked.
    const losers = resolveConflicts(rs.filter((r) => !r.uid.startsWith("labhog-unbooked-"))).losers;
    out.push(...rs.map((r) => (losers.has(r.id) ? { ...r, state: "conflict" as const } : r)));
  }
  return out;
}

const table = (by: StatsBy, now = W + 30 * DAY) => computeStats({ from: W, to: W + 7 * DAY, now, by, resources: FIXTURE_RESOURCES, reservations: reservations(now) });

describe("statistics of the fixture week, by hand", () => {
  it("the fixture maps as described: E3 loses to E2, the series has 5 occurrences, the all-day event lasts 24 h", () => {
    const rs = reservations(W + 30 * DAY);
    expect(rs.filter((r) => r.state === "conflict").map((r) => r.id)).toEqual(["t-e3"]);
    expect(rs.filter((r) => r.uid === "t-r").map((r) => r.start)).toEqual([0, 1, 2, 3, 4].map((d) => new Date(W + d * DAY + 8 * 3_600_000).toISOString()));
    const allDay = rs.find((r) => r.uid === "t-a")!;
    expect([allDay.allDay, Date.parse(allDay.end) - Date.parse(allDay.start)]).toEqual([true, DAY]);
  });

  for (const by of ["resource", "pool", "user"] as const) {
    it(`by ${by}: every row and the total equal the hand-computed table`, () => {
      const t = table(by);
      expect(Object.fromEntries(t.groups.map(({ group, ...rest }) => [group, rest]))).toEqual(EXPECTED[by]);
      expect({ ...t.total, group: undefined }).toEqual({ ...EXPECTED.total, group: undefined });
    });
  }

  it("a window cut in the middle of use counts the part inside: E5's 2 h spread over 22:00–02:00 give 1 h before Monday", () => {
    const e5 = { used: { s: 2 * 3600, first: "2026-05-10T22:00:00Z", last: "2026-05-11T02:00:00Z" } };
    expect(usedInWindow(e5, W, W + 7 * DAY)).toBe(3600);
    expect(usedInWindow(e5, W + 7 * DAY, W + 14 * DAY)).toBe(3600);
  });

  it("booked time still ahead is booked, not idle: in the middle of Wednesday the week so far is what counts", () => {
    // now = Wed 12:00: past bookings are E1 (4 h, 3 used), E2 (2 h, 1 used) on r1.
    const t = computeStats({ from: W, to: W + 7 * DAY, now: W + 2 * DAY + 12 * 3_600_000, by: "resource", resources: FIXTURE_RESOURCES, reservations: reservations(W + 2 * DAY + 12 * 3_600_000) });
    const r1 = t.groups.find((g) => g.group === "r1")!;
    expect([r1.bookedHours, r1.idleHours, r1.unbookedHours]).toEqual([8.25, 2, 0]);
  });
});
