import { ConflictError, ValidationError } from "../../calendar/errors.ts";
import { wallAt, wallToInstant } from "../../calendar/ical/zones.ts";
import type { ConflictInfo, Repeat } from "./protocol.ts";

/**
 * Recurring bookings, pure: the RRULE a `repeat` asks for, its limits, and
 * what to do when some occurrences conflict (../../docs/conflicts.md,
 * "Recurring bookings").
 */

/** At most this many occurrences in one series, whatever policy.maxSeriesLength allows. */
export const MAX_SERIES_OCCURRENCES = 200;

const WEEKDAYS = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"] as const;
const DAY_MS = 86_400_000;

export interface SeriesRule {
  /** The RRULE value to write. */
  rrule: string;
  /** The first occurrence's start (ms): the requested start, moved to the first day the rule names. */
  startMs: number;
  /** UNTIL (ms), when the series is bounded by a date. */
  untilMs?: number;
}

/**
 * The RRULE for `repeat`, with the series' first occurrence. A weekly rule
 * with BYDAY starts on the first of those days at or after the requested
 * start (same wall time), as calendar apps do: RFC 5545 counts DTSTART as an
 * occurrence even when the rule would not, which would book a day nobody
 * asked for. `until` as a date means "through that day" in the lab's zone.
 */
export function seriesRule(repeat: Repeat, startMs: number, tzid: string, maxMs: number, maxText: string): SeriesRule {
  if ((repeat.until === undefined) === (repeat.count === undefined)) throw new ValidationError("a series needs until or count (not both): unbounded series are refused", { path: "repeat.until" });
  if (repeat.byDay && repeat.freq !== "weekly") throw new ValidationError("byDay goes with freq weekly", { path: "repeat.byDay" });
  const interval = repeat.interval ?? 1;
  if (!Number.isInteger(interval) || interval < 1 || interval > 52) throw new ValidationError("interval is a whole number from 1 to 52", { path: "repeat.interval" });
  if (repeat.count !== undefined && !(Number.isInteger(repeat.count) && repeat.count >= 1 && repeat.count <= MAX_SERIES_OCCURRENCES)) {
    throw new ValidationError(`count is a whole number from 1 to ${MAX_SERIES_OCCURRENCES}`, { path: "repeat.count" });
  }
  const days = repeat.byDay ? [...new Set(repeat.byDay)] : undefined;
  if (days) for (const d of days) if (!(WEEKDAYS as readonly string[]).includes(d)) throw new ValidationError(`byDay: "${d}" is not one of ${WEEKDAYS.join(", ")}`, { path: "repeat.byDay" });
  let first = startMs;
  if (days?.length) {
    const wall = wallAt(tzid, startMs);
    for (let i = 0; i < 7; i++) {
      const w = { ...wall, ...dayPlus(wall, i) };
      const dow = new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay();
      if (days.includes(WEEKDAYS[dow]!)) {
        first = i === 0 ? startMs : wallToInstant(tzid, w);
        break;
      }
    }
  }
  const parts = [`FREQ=${repeat.freq.toUpperCase()}`];
  if (interval !== 1) parts.push(`INTERVAL=${interval}`);
  if (days?.length) parts.push(`BYDAY=${WEEKDAYS.filter((d) => days.includes(d)).join(",")}`);
  let untilMs: number | undefined;
  if (repeat.until !== undefined) {
    untilMs = untilInstant(repeat.until, tzid);
    if (untilMs < first) throw new ValidationError("until is before the first occurrence", { path: "repeat.until" });
    if (untilMs - first > maxMs) throw new ValidationError(`a series may run at most ${maxText} (policy.maxSeriesLength)`, { path: "repeat.until" });
    parts.push(`UNTIL=${utcStamp(untilMs)}`);
  } else {
    parts.push(`COUNT=${repeat.count}`);
  }
  return { rrule: parts.join(";"), startMs: first, ...(untilMs !== undefined ? { untilMs } : {}) };
}

function dayPlus(w: { year: number; month: number; day: number }, n: number): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(w.year, w.month - 1, w.day) + n * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** `2027-03-01`: the last second of that day in the lab's zone; an ISO date-time with offset: that instant. */
export function untilInstant(text: string, tzid: string): number {
  const date = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (date) {
    const w = { year: Number(date[1]), month: Number(date[2]), day: Number(date[3]) };
    const check = new Date(Date.UTC(w.year, w.month - 1, w.day));
    if (check.getUTCMonth() !== w.month - 1 || check.getUTCDate() !== w.day) throw new ValidationError(`until: ${text} is not a date`, { path: "repeat.until" });
    return wallToInstant(tzid, { ...dayPlus(w, 1), hour: 0, minute: 0, second: 0 }) - 1000;
  }
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw new ValidationError(`until: "${text}" is neither a date (2027-03-01) nor an ISO date-time with offset`, { path: "repeat.until" });
  return Math.floor(ms / 1000) * 1000;
}

export function utcStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** Checks the expanded series against the limits: at most MAX_SERIES_OCCURRENCES, the last within maxMs of the first. */
export function checkSeriesSize(occurrences: readonly { start: string }[], expected: number | undefined, maxText: string): void {
  if (occurrences.length === 0) throw new ValidationError("the series has no occurrence", { path: "repeat" });
  if (occurrences.length > MAX_SERIES_OCCURRENCES) throw new ValidationError(`a series may have at most ${MAX_SERIES_OCCURRENCES} occurrences; this one has ${occurrences.length}`, { path: "repeat" });
  // COUNT: occurrences past the horizon were not expanded, so fewer came back than asked for.
  if (expected !== undefined && occurrences.length < expected) throw new ValidationError(`a series may run at most ${maxText} (policy.maxSeriesLength): ${expected} occurrences would run past it`, { path: "repeat.count" });
}

export interface OccurrenceCheck {
  /** The occurrence's start (ISO UTC), which is also its RECURRENCE-ID. */
  start: string;
  end: string;
  conflicts: ConflictInfo[];
}

/**
 * What to do with a series given each occurrence's conflicts, like room
 * calendars: none conflicting, book it; more than half conflicting, refuse
 * the series as a whole (skipping would leave a series mostly of holes);
 * otherwise refuse unless the caller asked to skip them, then each
 * conflicting occurrence is left out with an EXDATE.
 */
export function seriesVerdict(resource: string, checks: readonly OccurrenceCheck[], skipConflicts: boolean): { skip: string[] } {
  const bad = checks.filter((c) => c.conflicts.length > 0);
  if (bad.length === 0) return { skip: [] };
  const dates = bad.map((c) => c.start);
  const conflicts = bad.flatMap((c) => c.conflicts);
  const detail = { resource, conflicts, conflictingDates: dates, occurrences: checks.length, nextFree: null };
  if (bad.length * 2 > checks.length) {
    throw new ConflictError(`${bad.length} of ${checks.length} occurrences conflict (more than half): the series is refused as a whole; conflicting: ${dates.join(", ")}`, { ...detail, refusedAsWhole: true });
  }
  if (!skipConflicts) {
    throw new ConflictError(`${bad.length} of ${checks.length} occurrences conflict: ${dates.join(", ")}; ask for skipConflicts to book the others`, { ...detail, refusedAsWhole: false });
  }
  return { skip: dates };
}

/**
 * A move of a series' start, on the wall clock of the lab's zone: `shift`
 * moves any other instant of the series by the same wall-clock amount (so
 * 09:00 → 10:00 moves every 09:00 instance to 10:00, on either side of a DST
 * change); `sameDay` is false when the move changes the date.
 */
export function wallShift(tzid: string, fromMs: number, toMs: number): { sameDay: boolean; shift: (ms: number) => number } {
  const asUtc = (w: { year: number; month: number; day: number; hour: number; minute: number; second: number }) => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  const a = wallAt(tzid, fromMs);
  const b = wallAt(tzid, toMs);
  const delta = asUtc(b) - asUtc(a);
  return {
    sameDay: a.year === b.year && a.month === b.month && a.day === b.day,
    shift: (ms) => {
      const d = new Date(asUtc(wallAt(tzid, ms)) + delta);
      return wallToInstant(tzid, { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() });
    },
  };
}
