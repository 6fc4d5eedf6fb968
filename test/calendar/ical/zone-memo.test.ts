import ICAL from "ical.js";
import { describe, expect, it } from "vitest";
import { IntlZone, WallOffsetMemo, intlZone, offsetForWall } from "../../../calendar/ical/zones.ts";

/**
 * Zone offsets are memoized per wall time (calendar/ical/zones.ts). The memo
 * must answer exactly what the zone computes, and stay bounded over all zones
 * together however many wall times and zones a Worker sees.
 */
describe("wall-time offset memo", () => {
  it("answers what the zone computes, gap and repeated hour included", () => {
    const z = intlZone("Europe/Berlin")!;
    for (const [h, m] of [[1, 59], [2, 0], [2, 30], [3, 0]] as const) {
      for (const day of [29, 25]) {
        const month = day === 29 ? 3 : 10;
        const t = new ICAL.Time({ year: 2026, month, day, hour: h, minute: m, second: 0, isDate: false }, z);
        const expected = offsetForWall("Europe/Berlin", { year: 2026, month, day, hour: h, minute: m, second: 0 });
        expect(z.utcOffset(t)).toBe(expected); // computed
        expect(z.utcOffset(t)).toBe(expected); // memoized
      }
    }
  });

  it("holds at most MAX entries over all zones together", () => {
    const zones = ["America/New_York", "Asia/Tokyo", "Australia/Sydney"].map((n) => new IntlZone(n));
    let t = new ICAL.Time({ year: 2026, month: 1, day: 1, hour: 0, minute: 0, second: 0, isDate: false }, ICAL.Timezone.utcTimezone);
    for (let i = 0; i < WallOffsetMemo.MAX * 0.6; i++) {
      t = new ICAL.Time({ year: 2026, month: 1 + (i % 12), day: 1 + (i % 28), hour: i % 24, minute: i % 60, second: Math.floor(i / 60) % 60, isDate: false }, ICAL.Timezone.utcTimezone);
      for (const z of zones) z.utcOffset(t);
      expect(WallOffsetMemo.size).toBeLessThanOrEqual(WallOffsetMemo.MAX);
    }
    expect(WallOffsetMemo.size).toBeGreaterThan(0);
  });
});
