import { describe, expect, it } from "vitest";
import { comparePrecedence, resolveConflicts } from "../../../calendar/conflicts.ts";
import { expandCalendar } from "../../../calendar/ical/index.ts";
import type { Reservation } from "../../../calendar/model.ts";
import { cal, users } from "../ical/helpers.ts";

const H = (h: number) => new Date(Date.UTC(2026, 10, 26, h)).toISOString();
function res(id: string, start: number, end: number, o: Partial<Reservation> = {}): Reservation {
  return { id, uid: id, resource: "r1", holder: { id: "alice", raw: "alice" }, start: H(start), end: H(end), exclusive: true, purpose: id, source: "calendar", state: "upcoming", ...o };
}

describe("comparePrecedence", () => {
  it("CREATED, then DTSTAMP, then UID, then id", () => {
    const a = res("a", 0, 1, { created: "2026-01-01T00:00:00Z", dtstamp: "2026-05-01T00:00:00Z", uid: "z" });
    const b = res("b", 0, 1, { created: "2026-02-01T00:00:00Z", dtstamp: "2026-01-01T00:00:00Z", uid: "a" });
    expect(comparePrecedence(a, b)).toBeLessThan(0);
    const c = res("c", 0, 1, { created: "2026-01-01T00:00:00Z", dtstamp: "2026-04-01T00:00:00Z", uid: "z" });
    expect(comparePrecedence(c, a)).toBeLessThan(0);
    const d = res("d", 0, 1, { created: "2026-01-01T00:00:00Z", dtstamp: "2026-04-01T00:00:00Z", uid: "y" });
    expect(comparePrecedence(d, c)).toBeLessThan(0);
    const e1 = res("e/1", 0, 1, { uid: "e" });
    const e2 = res("e/2", 0, 1, { uid: "e" });
    expect(comparePrecedence(e1, e2)).toBeLessThan(0);
    expect(comparePrecedence(e1, e1)).toBe(0);
    // Without CREATED, DTSTAMP stands in; without either, last.
    expect(comparePrecedence(res("x", 0, 1, { dtstamp: "2025-01-01T00:00:00Z" }), a)).toBeLessThan(0);
    expect(comparePrecedence(res("y", 0, 1), a)).toBeGreaterThan(0);
  });
});

describe("resolveConflicts", () => {
  it("the earlier-created exclusive wins; the loser names the winner", () => {
    const older = res("older", 10, 12, { created: "2026-01-01T00:00:00Z" });
    const newer = res("newer", 11, 13, { created: "2026-02-01T00:00:00Z" });
    const { reservations, losers } = resolveConflicts([newer, older]);
    expect(losers).toEqual(new Map([["newer", ["older"]]]));
    expect(reservations.find((r) => r.id === "newer")).toMatchObject({ state: "conflict", conflictWith: ["older"] });
    expect(reservations.find((r) => r.id === "older")!.state).toBe("upcoming");
  });

  it("shared never conflicts with shared, does with exclusive (either way round)", () => {
    const s1 = res("s1", 10, 12, { exclusive: false, created: "2026-01-01T00:00:00Z" });
    const s2 = res("s2", 11, 13, { exclusive: false, created: "2026-01-02T00:00:00Z" });
    expect(resolveConflicts([s1, s2]).losers.size).toBe(0);
    const x = res("x", 11, 12, { created: "2026-01-03T00:00:00Z" });
    expect(resolveConflicts([s1, s2, x]).losers.get("x")).toEqual(["s1", "s2"]);
    const early = res("early", 11, 12, { created: "2025-01-01T00:00:00Z" });
    const { losers } = resolveConflicts([s1, s2, early]);
    expect(losers.get("s1")).toEqual(["early"]);
    expect(losers.get("s2")).toEqual(["early"]);
  });

  it("touching intervals do not overlap; other resources do not conflict", () => {
    expect(resolveConflicts([res("a", 10, 11), res("b", 11, 12)]).losers.size).toBe(0);
    expect(resolveConflicts([res("a", 10, 12), res("b", 10, 12, { resource: "r2" })]).losers.size).toBe(0);
  });

  it("a loser blocks nobody: A beats B, C (overlapping only B) stands", () => {
    const a = res("a", 10, 12, { created: "2026-01-01T00:00:00Z" });
    const b = res("b", 11, 14, { created: "2026-01-02T00:00:00Z" });
    const c = res("c", 13, 15, { created: "2026-01-03T00:00:00Z" });
    expect([...resolveConflicts([c, b, a]).losers.keys()]).toEqual(["b"]);
  });

  it("an earlier conflict mark does not make an event lose forever", () => {
    const wasLoser = res("was", 10, 12, { created: "2026-01-01T00:00:00Z", state: "conflict", conflictWith: ["gone"] });
    const { reservations, losers } = resolveConflicts([wasLoser], new Date(H(11)));
    expect(losers.size).toBe(0);
    expect(reservations[0]!.state).toBe("active");
    expect(reservations[0]!.conflictWith).toBeUndefined();
  });

  it("is deterministic whatever the input order", () => {
    const rs = Array.from({ length: 60 }, (_, i) => res(`r${i}`, i % 7, (i % 7) + 1 + (i % 3), { exclusive: i % 4 !== 0, created: `2026-01-${String((i % 28) + 1).padStart(2, "0")}T00:00:00Z` }));
    const a = resolveConflicts(rs).losers;
    const b = resolveConflicts([...rs].reverse()).losers;
    expect([...b.entries()].sort()).toEqual([...a.entries()].sort());
  });

  it("agrees with a brute-force greedy on random inputs", () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(rnd() * 25);
      const rs = Array.from({ length: n }, (_, i) => {
        const s = Math.floor(rnd() * 20);
        return res(`r${round}-${i}`, s, s + Math.floor(rnd() * 5), { exclusive: rnd() < 0.6, created: `2026-01-${String(1 + Math.floor(rnd() * 9)).padStart(2, "0")}T00:00:00Z` });
      });
      const order = [...rs].sort(comparePrecedence);
      const admitted: Reservation[] = [];
      const expected = new Map<string, string[]>();
      for (const r of order) {
        if (!(Date.parse(r.start) < Date.parse(r.end))) continue;
        const hits = admitted.filter((a) => Date.parse(a.start) < Date.parse(r.end) && Date.parse(r.start) < Date.parse(a.end) && (a.exclusive || r.exclusive));
        if (hits.length) expected.set(r.id, hits.map((h) => h.id));
        else admitted.push(r);
      }
      expect(resolveConflicts(rs).losers).toEqual(expected);
    }
  });

  it("scales: 20,000 reservations resolve in well under a second", () => {
    const rs = Array.from({ length: 20_000 }, (_, i) => res(`r${i}`, 0, 1, { start: new Date(Date.UTC(2026, 0, 1) + i * 1800e3).toISOString(), end: new Date(Date.UTC(2026, 0, 1) + i * 1800e3 + 3600e3).toISOString(), created: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString() }));
    const t0 = performance.now();
    const { losers } = resolveConflicts(rs);
    expect(performance.now() - t0).toBeLessThan(1500);
    // Each hour-long booking overlaps the next half-hour one: every second one loses.
    expect(losers.size).toBe(10_000);
  });

  it("works on calendar events end to end (CREATED decides)", () => {
    const objs = [
      { id: "a.ics", ics: cal(["UID:a", "CREATED:20261001T000000Z", "DTSTAMP:20261101T000000Z", "DTSTART:20261126T100000Z", "DTEND:20261126T120000Z", "ORGANIZER:mailto:alice@example.org"]) },
      { id: "b.ics", ics: cal(["UID:b", "CREATED:20260901T000000Z", "DTSTAMP:20261102T000000Z", "DTSTART:20261126T110000Z", "DTEND:20261126T130000Z", "ORGANIZER:mailto:bob@example.org", "X-LABHOG-STATE:conflict"]) },
    ];
    const { reservations } = expandCalendar(objs, { resource: "r1", timezone: "UTC", users }, { start: new Date("2026-11-01"), end: new Date("2026-12-01") });
    const { losers } = resolveConflicts(reservations);
    expect(losers).toEqual(new Map([["a", ["b"]]]));
  });
});
