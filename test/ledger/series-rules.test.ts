import { describe, expect, it } from "vitest";
import { checkSeriesSize, seriesRule, seriesVerdict, untilInstant, type OccurrenceCheck } from "../../worker/ledger/series-rules.ts";

/** The recurring-booking rules, pure (worker/ledger/series-rules.ts; docs/conflicts.md "Recurring bookings"). */
const YEAR = 366 * 86_400_000;
const TZ = "Europe/Berlin";

describe("seriesRule", () => {
  it("weekly on Tuesday and Thursday from a Wednesday 09:00 starts on Thursday 09:00; UNTIL is the end of the given day in the lab's zone, in UTC", () => {
    // Wednesday 2027-03-03 09:00 Berlin (UTC+1).
    const r = seriesRule({ freq: "weekly", byDay: ["TH", "TU"], until: "2027-04-01" }, Date.parse("2027-03-03T08:00:00Z"), TZ, YEAR, "366d");
    expect(r.startMs).toBe(Date.parse("2027-03-04T08:00:00Z"));
    // 2027-04-01 is summer time (UTC+2): its last second is 21:59:59Z.
    expect(r.rrule).toBe("FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270401T215959Z");
  });

  it("keeps a start that matches, writes INTERVAL and COUNT", () => {
    const r = seriesRule({ freq: "daily", interval: 2, count: 5 }, Date.parse("2027-03-03T08:00:00Z"), TZ, YEAR, "366d");
    expect(r).toEqual({ rrule: "FREQ=DAILY;INTERVAL=2;COUNT=5", startMs: Date.parse("2027-03-03T08:00:00Z") });
  });

  it("refuses unbounded, over-long and malformed series", () => {
    const s = Date.parse("2027-03-03T08:00:00Z");
    expect(() => seriesRule({ freq: "weekly" }, s, TZ, YEAR, "366d")).toThrow(/until or count/);
    expect(() => seriesRule({ freq: "weekly", until: "2028-04-01" }, s, TZ, YEAR, "366d")).toThrow(/at most 366d/);
    expect(() => seriesRule({ freq: "weekly", until: "2027-03-01" }, s, TZ, YEAR, "366d")).toThrow(/before the first/);
    expect(() => seriesRule({ freq: "daily", byDay: ["MO"], count: 2 }, s, TZ, YEAR, "366d")).toThrow(/byDay goes with freq weekly/);
    expect(() => seriesRule({ freq: "daily", count: 201 }, s, TZ, YEAR, "366d")).toThrow(/count/);
    expect(() => untilInstant("2027-02-30", TZ)).toThrow(/not a date/);
    expect(() => untilInstant("next week", TZ)).toThrow(/neither a date/);
  });

  it("checkSeriesSize: a COUNT that runs past the horizon expands to fewer occurrences, and is refused", () => {
    expect(() => checkSeriesSize([{ start: "x" }, { start: "y" }], 3, "366d")).toThrow(/maxSeriesLength/);
    expect(() => checkSeriesSize([], undefined, "366d")).toThrow(/no occurrence/);
    expect(() => checkSeriesSize([{ start: "x" }], 1, "366d")).not.toThrow();
  });
});

describe("seriesVerdict", () => {
  const occ = (n: number, bad: number[]): OccurrenceCheck[] =>
    Array.from({ length: n }, (_, k) => ({ start: `d${k}`, end: `e${k}`, conflicts: bad.includes(k) ? [{ id: `x${k}`, holder: "bob", start: `d${k}`, end: `e${k}`, exclusive: true, state: "upcoming" as const }] : [] }));

  it("no conflict: nothing skipped", () => {
    expect(seriesVerdict("h", occ(4, []), false)).toEqual({ skip: [] });
  });
  it("a few conflicts: refused (409) unless skipConflicts, then skipped", () => {
    expect(() => seriesVerdict("h", occ(4, [1, 2]), false)).toThrow(expect.objectContaining({ status: 409, detail: expect.objectContaining({ conflictingDates: ["d1", "d2"], refusedAsWhole: false }) }));
    expect(seriesVerdict("h", occ(4, [1, 2]), true)).toEqual({ skip: ["d1", "d2"] });
  });
  it("more than half conflicting: refused as a whole even with skipConflicts", () => {
    expect(() => seriesVerdict("h", occ(5, [0, 1, 2]), true)).toThrow(expect.objectContaining({ status: 409, detail: expect.objectContaining({ conflictingDates: ["d0", "d1", "d2"], refusedAsWhole: true }) }));
  });
});
