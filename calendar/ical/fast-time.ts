import ICAL from "ical.js";

/**
 * Making ICAL.Time values without ical.js's generic constructor. `new
 * ICAL.Time(data, zone)` copies `data` through Object.entries and a setter per
 * field, which costs more than parsing the line the value came from; mapping
 * a calendar makes several times per event and recurrence one per instance.
 *
 * The values made here are what ical.js itself would make (same own fields
 * in the same order, zone, normalization pending unless every field is in
 * range, no cached instant), relying on Time's internal `_time` record. A
 * self-check against ical.js runs once at load;
 * if it ever fails (another ical.js version), every value is made the slow,
 * official way instead. test/calendar/ical/fast-time.test.ts compares both.
 */

interface TimeInternals {
  _time: Record<string, number | boolean>;
  _pendingNormalization: boolean;
  _cachedUnixTime: number | null;
}

const TIME_PROTO = ICAL.Time.prototype;

function fastMake(year: number, month: number, day: number, hour: number, minute: number, second: number, isDate: boolean, zone: ICAL.Timezone): ICAL.Time {
  const t = Object.create(TIME_PROTO) as ICAL.Time;
  const raw = t as unknown as TimeInternals & { icalclass: string; zone: ICAL.Timezone; wrappedJSObject: unknown };
  // The own fields ical.js's constructor makes, in its order.
  raw.icalclass = "icaltime";
  raw._cachedUnixTime = null;
  raw.zone = zone;
  raw._pendingNormalization = false;
  raw.wrappedJSObject = t;
  const f = Object.create(null) as Record<string, number | boolean>;
  f.year = year;
  f.month = month;
  f.day = day;
  f.hour = hour;
  f.minute = minute;
  f.second = second;
  f.isDate = isDate;
  raw._time = f;
  // ical.js normalizes on the next read (a second of 60 rolls over); so must
  // this, unless every field is already in range (then normalizing changes nothing).
  raw._pendingNormalization = !(month >= 1 && month <= 12 && day >= 1 && day <= 28 && hour >= 0 && hour < 24 && minute >= 0 && minute < 60 && second >= 0 && second < 60 && (!isDate || (hour === 0 && minute === 0 && second === 0)));
  return t;
}

function slowMake(year: number, month: number, day: number, hour: number, minute: number, second: number, isDate: boolean, zone: ICAL.Timezone): ICAL.Time {
  return new ICAL.Time({ year, month, day, hour, minute, second, isDate }, zone);
}

function sameTime(a: ICAL.Time, b: ICAL.Time): boolean {
  return a.toString() === b.toString() && a.zone === b.zone && a.isDate === b.isDate && a.toUnixTime() === b.toUnixTime() && a.dayOfWeek() === b.dayOfWeek();
}

function selfCheck(): boolean {
  try {
    const utc = ICAL.Timezone.utcTimezone;
    const cases: Array<[ICAL.Time, ICAL.Time]> = [
      [fastMake(2026, 3, 29, 2, 30, 0, false, utc), slowMake(2026, 3, 29, 2, 30, 0, false, utc)],
      [fastMake(2016, 12, 31, 23, 59, 60, false, utc), ICAL.Time.fromDateTimeString("2016-12-31T23:59:60Z")],
      [fastMake(2026, 2, 28, 0, 0, 0, true, ICAL.Timezone.localTimezone), ICAL.Time.fromDateString("2026-02-28")],
    ];
    // The same own fields as ical.js's constructor makes (a new field in another version fails this).
    const own = (t: ICAL.Time) => Object.getOwnPropertyNames(t).join();
    const internal = (t: ICAL.Time) => Object.keys((t as unknown as TimeInternals)._time).join();
    const plain = new (ICAL.Time as unknown as new () => ICAL.Time)();
    const made = fastMake(2026, 1, 1, 0, 0, 0, false, ICAL.Timezone.localTimezone);
    if (own(made) !== own(plain) || internal(made) !== internal(plain)) return false;
    return cases.every(([a, b]) => sameTime(a, b));
  } catch {
    return false;
  }
}

/** True when values are made the fast way (the self-check passed). */
export const FAST_TIME = selfCheck();

/** A wall time in `zone`, as `new ICAL.Time({...}, zone)` would make it. */
export const makeTime: typeof slowMake = FAST_TIME ? fastMake : slowMake;

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z?)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The first value of a DATE or DATE-TIME property, exactly as
 * `prop.getFirstValue()` returns it (and cached there the same way), decoded
 * from the jCal text without ical.js's generic constructor. Anything but a
 * plain date or date-time, or a property inside a VTIMEZONE rule, goes to
 * ical.js.
 */
export function firstTimeValue(prop: ICAL.Property): unknown {
  const internals = prop as unknown as { _values?: unknown[]; isDecorated?: boolean };
  if (!FAST_TIME || internals._values?.[0] || !internals.isDecorated) return prop.getFirstValue();
  const jcal = prop.jCal as unknown[];
  const text = jcal[3];
  const type = jcal[2];
  const parent = prop.parent;
  if (typeof text !== "string" || !parent || parent.name === "standard" || parent.name === "daylight") return prop.getFirstValue();
  let t: ICAL.Time;
  if (type === "date-time") {
    const m = DATE_TIME.exec(text);
    if (!m) return prop.getFirstValue();
    let zone: ICAL.Timezone | null | undefined;
    if (m[7]) zone = ICAL.Timezone.utcTimezone;
    else {
      const tzid = prop.getParameter("tzid");
      if (tzid !== undefined && tzid !== null) {
        if (typeof tzid !== "string" || !tzid) return prop.getFirstValue();
        zone = parent.getTimeZoneByID(tzid) ?? ICAL.TimezoneService.get(tzid);
      }
    }
    t = makeTime(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, false, zone ?? ICAL.Timezone.localTimezone);
  } else if (type === "date") {
    const m = DATE.exec(text);
    if (!m) return prop.getFirstValue();
    t = makeTime(+m[1]!, +m[2]!, +m[3]!, 0, 0, 0, true, ICAL.Timezone.localTimezone);
  } else {
    return prop.getFirstValue();
  }
  (internals._values ??= [])[0] = t;
  return t;
}

/**
 * The instant (ms) of a property's first value when it is a plain UTC
 * date-time ("…Z", every field in range), read straight from the jCal text:
 * CREATED and DTSTAMP only need their instant. Undefined otherwise (ask ical.js).
 */
export function utcDateTimeMs(prop: ICAL.Property): number | undefined {
  const internals = prop as unknown as { _values?: unknown[] };
  if (internals._values?.[0]) return undefined;
  const jcal = prop.jCal as unknown[];
  const text = jcal[3];
  if (jcal[2] !== "date-time" || typeof text !== "string" || text.length !== 20) return undefined;
  const m = DATE_TIME.exec(text);
  if (!m || !m[7]) return undefined;
  const [year, month, day, hour, minute, second] = [+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!];
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= 28 && hour < 24 && minute < 60 && second < 60)) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second);
}
