/**
 * Google Calendar STAND-IN (test double, not Google): does a series master
 * have an occurrence overlapping [min, max)? Used for timeMin/timeMax on
 * events.list with singleEvents=false, where Google returns a series whole if
 * any of its instances falls in the window.
 *
 * Simplification (documented, tests stay clear of it): the series is expanded
 * in UTC from its first start, not in its timeZone, so around a DST change an
 * occurrence can be judged one hour off; EXDATEs are ignored (a series whose
 * only in-window instance is excluded still comes back — harmless for a
 * client, which expands it itself).
 */
import ICAL from "ical.js";

const MAX_ITERATIONS = 100_000;

export function seriesOverlaps(startMs: number, durationMs: number, recurrence: string[], min: number, max: number): boolean {
  const hit = (s: number) => s < max && s + durationMs > min;
  if (hit(startMs)) return true;
  const dtstart = ICAL.Time.fromJSDate(new Date(startMs), true);
  for (const line of recurrence) {
    const prop = ICAL.Property.fromString(line);
    if (prop.name === "rrule") {
      const recur = prop.getFirstValue() as ICAL.Recur;
      const it = recur.iterator(dtstart);
      for (let i = 0; i < MAX_ITERATIONS; i++) {
        const next = it.next();
        if (!next) break;
        const s = next.toJSDate().getTime();
        if (s >= max) break;
        if (hit(s)) return true;
      }
    } else if (prop.name === "rdate") {
      for (const v of prop.getValues()) {
        if (v instanceof ICAL.Time && hit(v.toJSDate().getTime())) return true;
      }
    }
  }
  return false;
}
