import { describe, expect, it } from "vitest";
import type { Reservation } from "../../calendar/model.ts";
import { granted, judge, spanOf, type Seen } from "../../worker/ledger/precedence.ts";

const H = (h: number) => new Date(Date.UTC(2026, 11, 1, h)).toISOString();
function res(id: string, start: number, end: number, o: Partial<Reservation> = {}): Reservation {
  return { id, uid: id.split("/")[0]!, resource: "r1", holder: { id: "alice", raw: "alice" }, start: H(start), end: H(end), exclusive: true, purpose: id, source: "calendar", state: "upcoming", ...o };
}
/** Persisted form: what a restart reads back from storage. */
const reload = (m: Map<string, Seen>) => new Map<string, Seen>(JSON.parse(JSON.stringify([...m])));

/** Runs judge and applies its changes to `seen`, as the ledger does. */
function step(rs: Reservation[], seen: Map<string, Seen>, batch: number) {
  const v = judge(rs, seen, batch);
  for (const [id, s] of v.changed) seen.set(id, s);
  for (const id of v.removed) seen.delete(id);
  return v;
}

describe("precedence: the ledger's first-seen order", () => {
  it("a back-dated app event overlapping a granted booking is the one that loses", () => {
    const booking = res("labhog-1", 10, 12, { source: "api", created: "2026-11-30T12:00:00Z" });
    const seen = new Map([[booking.id, granted(booking, 1)]]);
    const app = res("thunderbird-1", 11, 13, { created: "2019-01-01T00:00:00Z", dtstamp: "2019-01-01T00:00:00Z" });
    const v = step([booking, app], seen, 2);
    expect(v.losers).toEqual(new Map([["thunderbird-1", ["labhog-1"]]]));
    expect(seen.get("labhog-1")!.won).toBe(true);
    expect(seen.get("thunderbird-1")).toEqual({ batch: 2, span: spanOf(app), won: false });
  });

  it("CREATED, DTSTAMP and UID only order events first seen in the same sync", () => {
    const older = res("a", 10, 12, { created: "2026-01-01T00:00:00Z" });
    const newer = res("b", 11, 13, { created: "2026-02-01T00:00:00Z" });
    expect(step([newer, older], new Map(), 1).losers).toEqual(new Map([["b", ["a"]]]));
    // Seen in different syncs, the later-seen loses whatever it claims.
    const seen = new Map<string, Seen>();
    step([newer], seen, 1);
    expect(step([newer, older], seen, 2).losers).toEqual(new Map([["a", ["b"]]]));
  });

  it("a recurring app series overlapping single bookings: only the overlapping occurrences lose", () => {
    const b1 = res("labhog-a", 10 + 24, 11 + 24, { source: "api" });
    const b2 = res("labhog-b", 10 + 72, 12 + 72, { source: "api" });
    const seen = new Map([
      [b1.id, granted(b1, 1)],
      [b2.id, granted(b2, 2)],
    ]);
    const series = [0, 1, 2, 3, 4].map((d) => res(`weekly/${H(9 + 24 * d)}`, 9 + 24 * d, 11 + 24 * d, { recurrenceId: H(9 + 24 * d), created: "2018-01-01T00:00:00Z" }));
    const v = step([b1, b2, ...series], seen, 3);
    expect([...v.losers.keys()].sort()).toEqual([series[1]!.id, series[3]!.id].sort());
    expect(v.losers.get(series[1]!.id)).toEqual(["labhog-a"]);
    expect(v.losers.get(series[3]!.id)).toEqual(["labhog-b"]);
  });

  it("a chain of three: A < B < C, B overlaps both: only B loses; when A goes, C keeps its standing", () => {
    const a = res("a", 10, 12);
    const b = res("b", 11, 14);
    const c = res("c", 13, 15);
    const seen = new Map<string, Seen>();
    step([a], seen, 1);
    step([a, b], seen, 2);
    const v = step([a, b, c], seen, 3);
    expect(v.losers).toEqual(new Map([["b", ["a"]]]));
    // A is deleted: B was seen before C, but C stood non-conflicting, so B keeps losing (now to C).
    const after = step([b, c], seen, 4);
    expect(after.losers).toEqual(new Map([["b", ["c"]]]));
    expect(seen.get("c")!.won).toBe(true);
    expect(after.removed).toEqual(["a"]);
  });

  it("a chain of three seen in one sync: tie-breaks decide, and the verdicts then hold", () => {
    const a = res("a", 10, 12, { created: "2026-01-01T00:00:00Z" });
    const b = res("b", 11, 14, { created: "2026-01-02T00:00:00Z" });
    const c = res("c", 13, 15, { created: "2026-01-03T00:00:00Z" });
    const seen = new Map<string, Seen>();
    expect(step([c, b, a], seen, 1).losers).toEqual(new Map([["b", ["a"]]]));
    // From then on the standing winners are admitted first, so B is reported against both.
    for (let i = 2; i < 5; i++) {
      const again = step([a, b, c], seen, i);
      expect(again.losers).toEqual(new Map([["b", ["a", "c"]]]));
      expect(again.changed.size).toBe(0);
      expect(again.usedBatch).toBe(false);
    }
  });

  it("a standing loser is freed when what it lost to goes away, and is not demoted again by a later arrival", () => {
    const a = res("a", 10, 12);
    const b = res("b", 11, 13);
    const seen = new Map<string, Seen>();
    step([a], seen, 1);
    expect(step([a, b], seen, 2).losers.has("b")).toBe(true);
    expect(step([b], seen, 3).losers.size).toBe(0);
    const late = res("late", 10, 12, { created: "2000-01-01T00:00:00Z" });
    expect(step([b, late], seen, 4).losers).toEqual(new Map([["late", ["b"]]]));
  });

  it("verdicts are stable: judging again changes nothing, also after a restart (storage reload)", () => {
    const rs = [res("a", 10, 12), res("b", 11, 13), res("c", 12, 14, { exclusive: false }), res("d", 20, 21)];
    const seen = new Map<string, Seen>();
    step(rs.slice(0, 1), seen, 1);
    step(rs.slice(0, 3), seen, 2);
    const first = step(rs, seen, 3);
    const restarted = reload(seen);
    for (let i = 0; i < 3; i++) {
      const v = step([...rs].reverse(), restarted, 10 + i);
      expect(v.losers).toEqual(first.losers);
      expect(v.changed.size).toBe(0);
    }
  });

  it("moving or growing a reservation is a new arrival of that span; shrinking keeps its standing", () => {
    const a = res("a", 10, 12);
    const b = res("b", 12, 14);
    const seen = new Map<string, Seen>();
    step([a], seen, 1);
    step([a, b], seen, 2);
    // A (seen first) grows into B: the growth arrived later, so A loses.
    const grown = res("a", 10, 13);
    expect(step([grown, b], seen, 3).losers).toEqual(new Map([["a", ["b"]]]));
    // Shrunk back inside its original span it no longer overlaps anything.
    const shrunk = res("a", 10, 11);
    expect(step([shrunk, b], seen, 4).losers.size).toBe(0);
    // B shrinks: keeps its batch and standing.
    const bShort = res("b", 12, 13);
    const before = seen.get("b")!;
    step([shrunk, bShort], seen, 5);
    expect(seen.get("b")).toEqual({ ...before, span: spanOf(bShort) });
  });

  it("after the stored order was lost, the calendar's conflict marks keep the verdicts (a tie-break within one sync)", () => {
    const booking = res("labhog-1", 10, 12, { source: "api", created: "2026-11-30T12:00:00Z" });
    const app = res("thunderbird-1", 11, 13, { created: "2019-01-01T00:00:00Z" });
    // Everything seen again in one sync: CREATED alone would hand the slot to the back-dated event.
    expect(judge([booking, app], new Map(), 1).losers).toEqual(new Map([["labhog-1", ["thunderbird-1"]]]));
    const marked = (r: Reservation) => r.id === "thunderbird-1";
    expect(judge([booking, app], new Map(), 1, marked).losers).toEqual(new Map([["thunderbird-1", ["labhog-1"]]]));
    // The mark never decides across batches: a loser freed and seen first keeps its place.
    const seen = new Map([[app.id, { batch: 1, span: spanOf(app), won: true }]]);
    expect(judge([booking, app], seen, 2, marked).losers).toEqual(new Map([["labhog-1", ["thunderbird-1"]]]));
  });

    it("shared reservations don't conflict with each other; an exclusive newcomer loses to them", () => {
    const s1 = res("s1", 10, 12, { exclusive: false });
    const s2 = res("s2", 11, 13, { exclusive: false });
    const seen = new Map<string, Seen>();
    expect(step([s1, s2], seen, 1).losers.size).toBe(0);
    const x = res("x", 11, 12, { created: "1999-01-01T00:00:00Z" });
    expect(step([s1, s2, x], seen, 2).losers).toEqual(new Map([["x", ["s1", "s2"]]]));
  });
});
