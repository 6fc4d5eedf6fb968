/**
 * Which calendar objects have an event in a time window: the memory
 * backend's stand-in for a CalDAV calendar-query time-range filter (RFC 4791
 * §9.9). Errs on the side of including: callers expand the series anyway, a
 * miss would lose a reservation, an extra object costs nothing.
 */
import ICAL from "ical.js";
import type { TimeWindow } from "../model.ts";
import { InvalidEventError, ValidationError } from "../errors.ts";
import { asInvalidEvent } from "../ical/read.ts";
import { intlZone, type IntlZone } from "../ical/zones.ts";
import { IterationBudget } from "../recurrence/budget.ts";
import { recurrenceStartsMs } from "../recurrence/expand.ts";

/** Where an object's events can possibly lie; `end: null` = open-ended series. JSON-safe. */
export interface Span {
  start: number;
  end: number | null;
  recurring: boolean;
}

/** Floating times and unknown TZIDs can be anywhere from UTC-12 to UTC+14. */
const FLOATING_SLACK_MS = 14 * 3_600_000;
/**
 * Series are walked by the mapping's own expansion, paying from the same
 * iteration budget (calendar/recurrence/budget.ts): ical.js's bare iterator
 * loops forever on a rule that never matches (FREQ=DAILY;INTERVAL=7;BYDAY=MO
 * from a Tuesday). Floating times are walked as UTC and widened by the slack.
 */
function utc(): IntlZone {
  return intlZone("UTC")!;
}

function* seriesStarts(comp: ICAL.Component, objectId: string | undefined): Generator<number> {
  const budget = new IterationBudget();
  try {
    yield* recurrenceStartsMs(comp, utc(), budget, objectId);
  } catch (e) {
    throw asInvalidEvent(e, objectId);
  }
}

function vevents(ics: string): ICAL.Component[] {
  let root: ICAL.Component;
  try {
    root = new ICAL.Component(ICAL.parse(ics));
  } catch (e) {
    throw new ValidationError(`not iCalendar: ${(e as Error).message}`);
  }
  const events = root.getAllSubcomponents("vevent");
  if (events.length === 0) throw new ValidationError("the calendar object has no VEVENT");
  return events;
}

function isAnchored(t: ICAL.Time): boolean {
  const z = t.zone;
  return z === ICAL.Timezone.utcTimezone || (z !== undefined && z !== null && z !== ICAL.Timezone.localTimezone && z.component !== null && z.component !== undefined);
}

function slack(t: ICAL.Time): number {
  return isAnchored(t) ? 0 : FLOATING_SLACK_MS;
}

function startEnd(ev: ICAL.Event): { start: ICAL.Time; end: ICAL.Time } {
  const start = ev.startDate;
  if (!start) throw new ValidationError("VEVENT without DTSTART");
  // Missing DTEND: a DATE lasts a day, a DATE-TIME is an instant (RFC 5545 §3.6.1).
  let end = ev.endDate;
  if (!end) {
    end = start.clone();
    if (start.isDate) end.adjust(1, 0, 0, 0);
  } else if (!ev.component.hasProperty("dtend") && ev.component.hasProperty("duration")) {
    // ical.js adds a DURATION's hours on the wall clock; the exact end can be
    // up to a DST shift (at most 2 h anywhere) later. Err on the side of including.
    end = end.clone();
    end.adjust(0, 2, 0, 0);
  }
  return { start, end };
}

/** Computed once when an object is written, so a listing rarely has to parse. */
export function spanOf(ics: string): Span {
  let lo = Infinity;
  let hi: number | null = -Infinity;
  let recurring = false;
  for (const comp of vevents(ics)) {
    const ev = new ICAL.Event(comp);
    const { start, end } = startEnd(ev);
    const s = start.toUnixTime() * 1000 - slack(start);
    const e = Math.max(end.toUnixTime() * 1000, start.toUnixTime() * 1000) + slack(end);
    lo = Math.min(lo, s);
    if (ev.isRecurring()) {
      recurring = true;
      const rule = comp.getFirstPropertyValue("rrule") as ICAL.Recur | null;
      if (rule && !rule.count && !rule.until) hi = null;
      else if (hi !== null) {
        // Bounded series: walk it once (capped) to find its last occurrence.
        // RDATEs may lie outside the RRULE's range; the walk includes them.
        const dur = Math.max(0, e - s);
        let last = start.toUnixTime() * 1000;
        try {
          for (const ms of seriesStarts(comp, undefined)) last = Math.max(last, ms);
          hi = Math.max(hi, last + dur + slack(start));
        } catch (err) {
          // Too costly or unreadable: store it as open-ended, so every listing
          // looks at it and the mapping reports it (a write is never refused for it).
          if (!(err instanceof InvalidEventError)) throw err;
          hi = null;
        }
      }
    } else if (hi !== null) {
      hi = Math.max(hi, e);
    }
  }
  return { start: lo, end: hi, recurring };
}

/** Cheap test on the stored span: false means certainly outside the window. */
export function spanMayOverlap(span: Span, w: TimeWindow): boolean {
  return span.start < w.end.getTime() && (span.end === null || span.end > w.start.getTime());
}

/**
 * Precise test: some event or occurrence of the object overlaps the window.
 * A series that costs more than the iteration budget throws InvalidEventError
 * for this object alone; callers go on with the others.
 */
export function overlapsWindow(ics: string, w: TimeWindow, objectId?: string): boolean {
  const ws = w.start.getTime();
  const we = w.end.getTime();
  for (const comp of vevents(ics)) {
    const ev = new ICAL.Event(comp);
    const { start, end } = startEnd(ev);
    const sl = Math.max(slack(start), slack(end));
    const s0 = start.toUnixTime() * 1000;
    const dur = Math.max(0, end.toUnixTime() * 1000 - s0);
    const hits = (s: number) => s - sl < we && s + dur + sl > ws;
    const instant = (s: number) => dur === 0 && s - sl >= ws && s - sl < we;
    if (!ev.isRecurring()) {
      if (hits(s0) || instant(s0)) return true;
      continue;
    }
    // Starts are walked from DTSTART (in UTC for floating ones, hence the
    // slack) and come in ascending order.
    for (const s of seriesStarts(comp, objectId)) {
      if (hits(s) || instant(s)) return true;
      if (s - sl >= we) break;
    }
  }
  return false;
}
