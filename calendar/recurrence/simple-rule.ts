import ICAL from "ical.js";
import { makeTime } from "../ical/fast-time.ts";
import { MAX_YEAR } from "../ical/times.ts";
import type { IterationBudget } from "./budget.ts";

/**
 * DAILY and WEEKLY rules with at most INTERVAL, plain weekdays in BYDAY,
 * WKST, COUNT and UNTIL — nearly every series a lab calendar holds — walked
 * with day numbers instead of ical.js's RecurIterator, which costs about ten
 * ICAL.Time operations a step (clones, zone lookups, compares).
 *
 * Wall times are produced exactly as RFC 5545 §3.3.10 defines the set (every
 * INTERVAL-th day or WKST-week from DTSTART's, the BYDAY weekdays of it, at
 * DTSTART's wall time, never before DTSTART); the instant of each is read by
 * the series' own zone, as for any other ICAL.Time, so gap and fold rules
 * are the zones' (calendar/ical/zones.ts). test/calendar/recurrence/
 * simple-rule.test.ts checks the output against the ical.js path.
 *
 * Without COUNT, the walk may start at the period that contains `fromMs`
 * (a bound below which the caller needs no instance): instances before it
 * are the same whatever the start, so the skipped ones are simply not made.
 * With COUNT every instance from DTSTART has to be counted, so it starts there.
 */

const DAY_MS = 86_400_000;
const WEEKDAYS = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];

export interface SimpleRule {
  freq: "DAILY" | "WEEKLY";
  interval: number;
  /** Weekdays, 0 = Sunday; undefined = every day (DAILY) or DTSTART's weekday (WEEKLY). */
  byDay?: number[];
  /** 0 = Sunday. */
  wkst: number;
}

/** The rule in the simple form, or undefined when ical.js must walk it. */
export function simpleRule(rule: ICAL.Recur): SimpleRule | undefined {
  if (rule.freq !== "DAILY" && rule.freq !== "WEEKLY") return undefined;
  if (!Number.isInteger(rule.interval) || rule.interval < 1) return undefined;
  let byDay: number[] | undefined;
  for (const key of Object.keys(rule.parts)) {
    const v = (rule.parts as Record<string, unknown>)[key];
    if (v === undefined || v === null) continue;
    if (key !== "BYDAY") return undefined;
    const list = (Array.isArray(v) ? v : [v]).map((d) => String(d).toUpperCase());
    const days = list.map((d) => WEEKDAYS.indexOf(d));
    if (days.length === 0 || days.some((d) => d < 0)) return undefined; // ordinals ("1MO") and anything odd
    byDay = [...new Set(days)];
  }
  const wkst = typeof rule.wkst === "number" && rule.wkst >= 1 && rule.wkst <= 7 ? rule.wkst - 1 : 1;
  return { freq: rule.freq, interval: rule.interval, byDay, wkst };
}

function onDay(day: number, hour: number, minute: number, second: number, isDate: boolean, zone: ICAL.Timezone): ICAL.Time {
  const d = new Date(day * DAY_MS);
  return makeTime(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), hour, minute, second, isDate, zone);
}

function dayOf(t: ICAL.Time): number {
  return Date.UTC(t.year, t.month - 1, t.day) / DAY_MS;
}

function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
}

/**
 * Start times of a simple rule from DTSTART (or from the period holding
 * `fromMs`), up to `untilMs` inclusive, each paid from `budget`. `bounded`:
 * the rule has COUNT or UNTIL of its own. DTSTART is
 * yielded only if the rule itself produces it.
 */
export function* simpleRuleStarts(r: SimpleRule, dtstart: ICAL.Time, untilMs: number, bounded: boolean, fromMs: number | undefined, budget: IterationBudget): Generator<ICAL.Time> {
  const { hour, minute, second, isDate } = dtstart;
  const zone = dtstart.zone;
  for (const day of simpleRuleDays(r, dayOf(dtstart), bounded, fromMs, budget)) {
    const t = onDay(day, hour, minute, second, isDate, zone);
    if (t.toUnixTime() * 1000 > untilMs) return;
    yield t;
  }
}

/**
 * The days (numbers since 1970-01-01) a simple rule puts an instance on, in
 * order, from DTSTART's day `d0` (or from the period holding `fromMs`),
 * without end: the caller stops at UNTIL or its horizon. The one walk behind
 * simpleRuleStarts and the jCal fast path (calendar/ical/fast-read.ts).
 */
export function* simpleRuleDays(r: SimpleRule, d0: number, bounded: boolean, fromMs: number | undefined, budget: IterationBudget): Generator<number> {
  budget.spend(10);
  // A wall date is within a day of its instant's UTC date; two days of margin.
  const fromDay = fromMs === undefined ? -Infinity : Math.floor(fromMs / DAY_MS) - 2;

  if (r.freq === "DAILY") {
    const days = r.byDay;
    // Every INTERVAL-th day is the same weekday when 7 divides INTERVAL. As
    // on the ical.js path, a bounded rule that never matches leaves DTSTART
    // alone; an endless one is a broken event.
    if (days && r.interval % 7 === 0 && !days.includes(weekday(d0))) {
      if (bounded) return;
      throw new Error(`RRULE has no instance before ${MAX_YEAR}: every INTERVAL-th day is a weekday BYDAY does not name`);
    }
    let k = fromDay > d0 ? Math.floor((fromDay - d0) / r.interval) : 0;
    for (;;) {
      budget.spend();
      const day = d0 + k * r.interval;
      k++;
      if (days && !days.includes(weekday(day))) continue;
      yield day;
    }
  }

  const offsets = (r.byDay ?? [weekday(d0)]).map((d) => (d - r.wkst + 7) % 7).sort((a, b) => a - b);
  const week0 = d0 - ((weekday(d0) - r.wkst + 7) % 7);
  const span = 7 * r.interval;
  let k = fromDay > week0 ? Math.floor((fromDay - week0) / span) : 0;
  for (;;) {
    budget.spend();
    const week = week0 + k * span;
    k++;
    for (const off of offsets) {
      const day = week + off;
      if (day < d0) continue;
      yield day;
    }
  }
}
