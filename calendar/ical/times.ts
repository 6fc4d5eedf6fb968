import ICAL from "ical.js";
import { InvalidEventError } from "../errors.ts";
import { firstTimeValue } from "./fast-time.ts";
import { IntlZone, VtimezoneZone, wallAt } from "./zones.ts";

/**
 * Event timing: turning DTSTART/DTEND/DURATION into instants.
 *
 * Floating times and all-day dates are read in the lab's zone (the zone is
 * attached to the value before any arithmetic, so UNTIL and EXDATE compare
 * correctly too). Missing DTEND follows RFC 5545 §3.6.1: an all-day event
 * lasts one day, a timed event ends when it starts (a zero-length
 * reservation: listed, never active, overlaps nothing).
 */

export function isFloating(t: ICAL.Time): boolean {
  return !t.zone || t.zone === ICAL.Timezone.localTimezone || t.zone.tzid === "floating";
}

/** Attaches the lab's zone to floating times and dates; zoned and UTC values are returned as they are. */
export function localize(t: ICAL.Time, lab: IntlZone): ICAL.Time {
  if (!isFloating(t)) return t;
  const c = t.clone();
  c.zone = lab;
  return c;
}

export function instantMs(t: ICAL.Time): number {
  return t.toUnixTime() * 1000;
}

/**
 * ISO text of an instant. Bookings start and end on a few thousand distinct
 * instants (whole hours, series repeating), so the strings are made once
 * and shared: a mapped calendar then keeps one string per instant, not two
 * per reservation. Strings are immutable, so sharing them changes nothing else.
 */
export function isoUtc(ms: number): string {
  let s = isoTexts.get(ms);
  if (s === undefined) {
    s = new Date(ms).toISOString();
    if (isoTexts.size >= ISO_TEXTS_MAX) isoTexts.clear();
    isoTexts.set(ms, s);
  }
  return s;
}

const isoTexts = new Map<number, string>();
/** At most about 0.3 MB, held across calls. */
const ISO_TEXTS_MAX = 4096;

export type EventLength =
  | { kind: "exact"; ms: number }
  | { kind: "nominal"; duration: ICAL.Duration }
  | { kind: "days"; days: number };

export interface EventTiming {
  start: ICAL.Time;
  allDay: boolean;
  length: EventLength;
}

function timeValue(comp: ICAL.Component, name: string, objectId: string | undefined): ICAL.Time | undefined {
  const prop = comp.getFirstProperty(name);
  if (!prop) return undefined;
  let v: unknown;
  try {
    v = firstTimeValue(prop);
  } catch (e) {
    throw new InvalidEventError(`${name.toUpperCase()} is not a valid date or date-time`, objectId, { cause: e });
  }
  if (!(v instanceof ICAL.Time) || !Number.isFinite(v.year) || !Number.isFinite(v.month) || !Number.isFinite(v.day)) {
    throw new InvalidEventError(`${name.toUpperCase()} is not a valid date or date-time`, objectId);
  }
  checkYear(v, name, objectId);
  if (v.month < 1 || v.month > 12 || v.day < 1 || v.day > 31 || v.hour > 23 || v.minute > 59 || v.second > 60) {
    throw new InvalidEventError(`${name.toUpperCase()} is out of range`, objectId);
  }
  return v;
}

/**
 * Lab bookings live in this range; far-off years only cost (ical.js expands a
 * VTIMEZONE's transitions up to the year asked for) and mean a broken event.
 */
export const MIN_YEAR = 1900;
export const MAX_YEAR = 2200;

export function checkYear(t: ICAL.Time, what: string, objectId: string | undefined): void {
  if (!(t.year >= MIN_YEAR && t.year <= MAX_YEAR)) {
    throw new InvalidEventError(`${what.toUpperCase()} year ${t.year} is outside ${MIN_YEAR}-${MAX_YEAR}`, objectId);
  }
}

export function readTime(comp: ICAL.Component, name: string, lab: IntlZone, objectId: string | undefined): ICAL.Time | undefined {
  const v = timeValue(comp, name, objectId);
  return v ? localize(v, lab) : undefined;
}

function dayNumber(t: ICAL.Time): number {
  return Date.UTC(t.year, t.month - 1, t.day) / 86_400_000;
}

export function timingOf(comp: ICAL.Component, lab: IntlZone, objectId: string | undefined): EventTiming {
  const start = readTime(comp, "dtstart", lab, objectId);
  if (!start) throw new InvalidEventError("event has no DTSTART", objectId);
  const end = readTime(comp, "dtend", lab, objectId);
  const allDay = start.isDate;
  let duration: ICAL.Duration | undefined;
  if (!end && comp.hasProperty("duration")) {
    const d = comp.getFirstPropertyValue("duration");
    if (!(d instanceof ICAL.Duration)) throw new InvalidEventError("DURATION is not a valid duration", objectId);
    if (d.isNegative && d.toSeconds() !== 0) throw new InvalidEventError("DURATION is negative", objectId);
    duration = d;
  }
  if (allDay) {
    if (end) {
      if (!end.isDate) throw new InvalidEventError("DTSTART is a date but DTEND is a date-time", objectId);
      const days = dayNumber(end) - dayNumber(start);
      if (days < 0) throw new InvalidEventError("DTEND is before DTSTART", objectId);
      // DTEND equal to DTSTART is a common producer slip for "that day".
      return { start, allDay, length: { kind: "days", days: Math.max(days, 1) } };
    }
    if (duration) return { start, allDay, length: { kind: "nominal", duration } };
    return { start, allDay, length: { kind: "days", days: 1 } };
  }
  if (end) {
    if (end.isDate) throw new InvalidEventError("DTSTART is a date-time but DTEND is a date", objectId);
    const ms = instantMs(end) - instantMs(start);
    if (!Number.isFinite(ms)) throw new InvalidEventError("DTSTART/DTEND are not valid times", objectId);
    if (ms < 0) throw new InvalidEventError("DTEND is before DTSTART", objectId);
    return { start, allDay, length: { kind: "exact", ms } };
  }
  if (duration) return { start, allDay, length: { kind: "nominal", duration } };
  return { start, allDay, length: { kind: "exact", ms: 0 } };
}

/** End instant of an occurrence that starts at `start` (a time in the series' zone). */
export function endMs(start: ICAL.Time, length: EventLength): number {
  switch (length.kind) {
    case "exact":
      return instantMs(start) + length.ms;
    case "nominal":
      return addDurationMs(start, length.duration);
    case "days": {
      const e = start.clone();
      e.adjust(length.days, 0, 0, 0);
      return instantMs(e);
    }
  }
}

/**
 * The instant a DURATION after `start` (RFC 5545 §3.3.6, §3.8.2.5): weeks and
 * days are nominal — added on the wall clock of `start`'s zone, so P1D across
 * a DST change is the same local time next day (a nonexistent result moves
 * forward, RFC 5545 §3.3.5) — and hours, minutes and seconds are exact, so
 * PT4H is four real hours whatever the clock does. The nominal part goes
 * first, the order RFC 8984 §1.4.6 spells out. ical.js's own addDuration
 * puts every part on the wall clock (PT4H over a spring change lasts 3 hours).
 */
export function addDurationMs(start: ICAL.Time, d: ICAL.Duration): number {
  const sign = d.isNegative ? -1 : 1;
  const days = sign * (d.weeks * 7 + d.days);
  let e = start;
  if (days !== 0) {
    e = start.clone();
    e.adjust(days, 0, 0, 0);
  }
  return instantMs(e) + sign * (d.hours * 3600 + d.minutes * 60 + d.seconds) * 1000;
}

/** A UTC DATE-TIME for an instant. */
export function utcTime(ms: number): ICAL.Time {
  return ICAL.Time.fromJSDate(new Date(Math.floor(ms / 1000) * 1000), true);
}

/**
 * The instant `ms` written the way `like` (a value as found in the event, not
 * localized) is written: same zone, floating stays floating (in the lab's
 * zone), a date stays a date when the instant is a midnight of the lab's zone.
 * Otherwise it is a UTC date-time: a date that cannot hold the instant, or a
 * wall time that reads back as another instant (the second pass of a repeated
 * hour reads as the first, RFC 5545 §3.3.5), so what is written always reads
 * back as `ms`.
 */
export function timeLike(ms: number, like: ICAL.Time | undefined, lab: IntlZone): ICAL.Time {
  const t = wallLike(ms, like, lab);
  return instantMs(localize(t, lab)) === ms ? t : utcTime(ms);
}

function wallLike(ms: number, like: ICAL.Time | undefined, lab: IntlZone): ICAL.Time {
  if (!like || like.zone === ICAL.Timezone.utcTimezone) return utcTime(ms);
  if (like.isDate || isFloating(like)) {
    const w = wallAt(lab.tzid, ms);
    if (like.isDate) {
      if (w.hour === 0 && w.minute === 0 && w.second === 0) return new ICAL.Time({ year: w.year, month: w.month, day: w.day, isDate: true }, ICAL.Timezone.localTimezone);
      return utcTime(ms);
    }
    return new ICAL.Time({ ...w, isDate: false }, ICAL.Timezone.localTimezone);
  }
  const zone = like.zone;
  if (zone instanceof IntlZone) {
    return new ICAL.Time({ ...wallAt(zone.tzid, ms), isDate: false }, zone);
  }
  if (zone instanceof VtimezoneZone) {
    const d = new Date(ms + zone.offsetAtMs(ms) * 1000);
    const wall = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
    return new ICAL.Time({ ...wall, isDate: false }, zone);
  }
  // Any other zone: let ical.js convert, then correct the rare transition-hour
  // miss of its UTC→local step.
  const t = utcTime(ms).convertToZone(zone);
  const diff = Math.round((ms - instantMs(t)) / 1000);
  if (diff !== 0) t.adjust(0, 0, 0, diff);
  return t;
}

/** Sets a DATE/DATE-TIME property the way ical.js's Event does (TZID for zoned values only). */
export function setTimeProperty(c: ICAL.Component, name: string, t: ICAL.Time): void {
  let p = c.getFirstProperty(name);
  if (!p) {
    p = new ICAL.Property(name, c);
    c.addProperty(p);
  }
  if (t.zone === ICAL.Timezone.localTimezone || t.zone === ICAL.Timezone.utcTimezone || !t.zone) p.removeParameter("tzid");
  else p.setParameter("tzid", t.zone.tzid);
  p.removeParameter("value");
  p.setValue(t);
}

/** The raw (not localized) value of a time property. */
export function rawTime(c: ICAL.Component, name: string): ICAL.Time | undefined {
  try {
    const v = c.getFirstPropertyValue(name);
    return v instanceof ICAL.Time ? v : undefined;
  } catch {
    return undefined;
  }
}
