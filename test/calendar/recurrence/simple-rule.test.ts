import ICAL from "ical.js";
import { describe, expect, it } from "vitest";
import { reservationsFromIcs } from "../../../calendar/ical/index.ts";
import { parseCalendar } from "../../../calendar/ical/parse.ts";
import { localize } from "../../../calendar/ical/times.ts";
import { intlZone } from "../../../calendar/ical/zones.ts";
import { IterationBudget } from "../../../calendar/recurrence/budget.ts";
import { icalJsRuleStarts, ruleStarts } from "../../../calendar/recurrence/rule.ts";
import { simpleRule } from "../../../calendar/recurrence/simple-rule.ts";

/**
 * calendar/recurrence/simple-rule.ts walks DAILY/WEEKLY rules with day
 * numbers instead of ical.js's iterator. Here both walk the same rules —
 * every INTERVAL, weekday set, WKST, COUNT and UNTIL mix below, from DTSTARTs
 * in UTC, IANA zones, an in-file VTIMEZONE and all-day, across DST changes,
 * in gaps and repeated hours — and must give the same instants.
 */

const VTZ = ["BEGIN:VTIMEZONE", "TZID:Berlin-file", "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT", "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD", "END:VTIMEZONE"];
const lab = intlZone("Europe/Berlin")!;

function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 2 ** 32);
  return { int: (n: number) => Math.floor(next() * n), pick: <T>(a: readonly T[]) => a[Math.floor(next() * a.length)]!, chance: (p: number) => next() < p };
}

const DTSTARTS = [
  "DTSTART:20260106T100000Z",
  "DTSTART;TZID=Europe/Berlin:20260327T023000", // two days before the spring gap, at a time inside it
  "DTSTART;TZID=Europe/Berlin:20261023T023000", // before the autumn repeat, at a repeated time
  "DTSTART;TZID=America/New_York:20260305T020000",
  "DTSTART;TZID=Berlin-file:20260326T023000",
  "DTSTART;TZID=Berlin-file:20261022T023000",
  "DTSTART:20260310T090000", // floating: the lab's zone
  "DTSTART;VALUE=DATE:20260325",
  "DTSTART;TZID=Australia/Lord_Howe:20261001T013000", // a 30-minute DST shift
];
const DAYS = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];

function randomRule(r: ReturnType<typeof rng>, allDay: boolean): string {
  const parts = [`FREQ=${r.pick(["DAILY", "WEEKLY"])}`];
  if (r.chance(0.6)) parts.push(`INTERVAL=${r.pick([1, 2, 3, 7, 14])}`);
  if (r.chance(0.7)) parts.push(`BYDAY=${[...new Set(Array.from({ length: 1 + r.int(4) }, () => r.pick(DAYS)))].join(",")}`);
  if (r.chance(0.4)) parts.push(`WKST=${r.pick(DAYS)}`);
  if (r.chance(0.35)) parts.push(`COUNT=${1 + r.int(40)}`);
  else if (r.chance(0.4)) parts.push(allDay ? `UNTIL=2026${r.pick(["0401", "0630", "1231"])}` : `UNTIL=2026${r.pick(["0401T080000Z", "0630T235959Z", "1029T013000Z"])}`);
  return `RRULE:${parts.join(";")}`;
}

function walk(gen: Generator<ICAL.Time>, limit: number): number[] {
  const out: number[] = [];
  for (const t of gen) {
    out.push(t.toUnixTime() * 1000);
    if (out.length >= limit) break;
  }
  return out;
}

describe("simple DAILY/WEEKLY rules walked without ical.js's iterator", () => {
  it("give the same instants as ical.js for 600 random rules and DTSTARTs", () => {
    const r = rng(12);
    let compared = 0; // instants compared
    for (let i = 0; i < 600; i++) {
      const dtstartLine = r.pick(DTSTARTS);
      const ruleLine = randomRule(r, dtstartLine.includes("VALUE=DATE"));
      const ics = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", ...VTZ, "BEGIN:VEVENT", "UID:x", "DTSTAMP:20260101T000000Z", dtstartLine, ruleLine, "END:VEVENT", "END:VCALENDAR", ""].join("\r\n");
      const ev = parseCalendar(ics).getFirstSubcomponent("vevent")!;
      const rule = ev.getFirstPropertyValue("rrule") as ICAL.Recur;
      const dtstart = localize(ev.getFirstPropertyValue("dtstart") as ICAL.Time, lab);
      expect(simpleRule(rule), ruleLine).toBeDefined();
      const limit = 120;
      let fast: number[] | Error;
      let slow: number[] | Error;
      try {
        fast = walk(ruleStarts(rule, dtstart, new IterationBudget(20_000)), limit);
      } catch (e) {
        fast = e as Error;
      }
      try {
        slow = walk(icalJsRuleStarts(rule, dtstart, new IterationBudget(20_000)), limit);
      } catch (e) {
        slow = e as Error;
      }
      if (slow instanceof Error || fast instanceof Error) {
        // Only a rule that never matches may fail, and then on both paths.
        expect(fast instanceof Error && slow instanceof Error, `${dtstartLine} ${ruleLine}: ${String(fast)} / ${String(slow)}`).toBe(true);
        continue;
      }
      // ical.js may or may not hand out DTSTART when the rule does not produce
      // it; the recurrence set adds DTSTART anyway, so compare without it.
      const d = dtstart.toUnixTime() * 1000;
      const strip = (xs: number[]) => xs.filter((x) => x !== d);
      const [sf, ss] = [strip(fast), strip(slow)];
      const n = Math.min(sf.length, ss.length);
      expect(sf.slice(0, n), `${dtstartLine} ${ruleLine}`).toEqual(ss.slice(0, n));
      // A walk that ended before the limit ended on both paths.
      if (fast.length < limit || slow.length < limit) expect(sf.length, `${dtstartLine} ${ruleLine}`).toBe(ss.length);
      compared += n;
    }
    expect(compared).toBeGreaterThan(20_000);
  });

  it("started near a late window, a series without COUNT has exactly the instances it has from DTSTART", () => {
    const ctx = { resource: "r", timezone: "Europe/Berlin", users: [] };
    const ics = (rule: string, extra: string[] = []) =>
      ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", "BEGIN:VEVENT", "UID:s", "DTSTAMP:20000101T000000Z", "DTSTART;TZID=Europe/Berlin:20000103T090000", "DTEND;TZID=Europe/Berlin:20000103T170000", rule, "END:VEVENT", ...extra, "END:VCALENDAR", ""].join("\r\n");
    const late = { start: new Date("2026-03-23T00:00:00Z"), end: new Date("2026-04-06T00:00:00Z") };
    // 26 years of a weekly series is 1,400 weeks and more days: well inside the budget only if skipped.
    const weekly = reservationsFromIcs(ics("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR"), { ...ctx, maxIterations: 200 }, late, "s").map((x) => x.start);
    // 2000-01-03 is a Monday; every other week from it: 2026-03-23 is week 1368, even.
    // (Week 1369, with 2026-03-30 and 2026-04-03, is an odd one.)
    expect(weekly).toEqual(["2026-03-23T08:00:00.000Z", "2026-03-27T08:00:00.000Z"]);
    const daily = reservationsFromIcs(ics("RRULE:FREQ=DAILY;INTERVAL=3"), { ...ctx, maxIterations: 200 }, late, "s").map((x) => x.start);
    // Day 9576 from 2000-01-03 is 2026-03-23 (9576 = 3 × 3192); DST starts 2026-03-29.
    expect(daily).toEqual(["2026-03-23T08:00:00.000Z", "2026-03-26T08:00:00.000Z", "2026-03-29T07:00:00.000Z", "2026-04-01T07:00:00.000Z", "2026-04-04T07:00:00.000Z"]);
    // With COUNT every instance from DTSTART is counted: the same budget does not reach 2026.
    expect(() => reservationsFromIcs(ics("RRULE:FREQ=DAILY;COUNT=100000"), { ...ctx, maxIterations: 200 }, late, "s")).toThrow(/iterations/);
  });
});
