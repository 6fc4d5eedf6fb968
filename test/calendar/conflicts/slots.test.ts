import { describe, expect, it } from "vitest";
import type { Reservation } from "../../../calendar/model.ts";
import { nextFreeSlot } from "../../../calendar/slots.ts";

const T = (m: number) => new Date(Date.UTC(2026, 10, 26, 10, m)).toISOString();
const r = (id: string, s: number, e: number, o: Partial<Reservation> = {}): Reservation => ({ id, uid: id, resource: "r", holder: { id: "a", raw: "a" }, start: T(s), end: T(e), exclusive: true, purpose: "", source: "api", state: "upcoming", ...o });
const after = new Date(T(0));

describe("nextFreeSlot", () => {
  it("now when free", () => expect(nextFreeSlot([], 30 * 60e3, after, true)).toEqual({ start: T(0), end: T(30) }));
  it("the first gap that fits, past overlapping bookings", () => {
    const ex = [r("a", 0, 20), r("b", 10, 40), r("c", 50, 80), r("d", 100, 120)];
    expect(nextFreeSlot(ex, 10 * 60e3, after, true)).toEqual({ start: T(40), end: T(50) });
    expect(nextFreeSlot(ex, 15 * 60e3, after, true)).toEqual({ start: T(80), end: T(95) });
    expect(nextFreeSlot(ex, 60 * 60e3, after, true)).toEqual({ start: T(120), end: T(180) });
  });
  it("shared only avoids exclusive; exclusive avoids shared too; conflict losers block nothing", () => {
    const ex = [r("s", 0, 30, { exclusive: false }), r("x", 30, 40), r("lost", 40, 90, { state: "conflict" })];
    expect(nextFreeSlot(ex, 10 * 60e3, after, false)).toEqual({ start: T(0), end: T(10) });
    expect(nextFreeSlot(ex, 10 * 60e3, after, true)).toEqual({ start: T(40), end: T(50) });
  });
});
