import ICAL from "ical.js";
import { offsetAt } from "./zones.ts";

/**
 * A VTIMEZONE for an IANA zone, from the runtime's Intl data, covering the
 * years [fromMs, toMs] touch (plus one on each side). RFC 5545 §3.6.5: an
 * object that names a TZID carries its VTIMEZONE; apps that have no zone
 * database of their own (python's dateutil behind vobject, Radicale's
 * expansion) read times through it.
 *
 * Each transition is written as its own STANDARD/DAYLIGHT observance (DTSTART,
 * TZOFFSETFROM, TZOFFSETTO, no RRULE): exact whatever the zone's rules were or
 * will be, and nothing for a parser to expand. A labhog series is at most a
 * year or so long, so that is a handful of observances.
 */
export function vtimezoneFor(tzid: string, fromMs: number, toMs: number): ICAL.Component {
  const from = Date.UTC(new Date(fromMs).getUTCFullYear() - 1, 0, 1);
  const to = Date.UTC(new Date(toMs).getUTCFullYear() + 2, 0, 1);
  const vtz = new ICAL.Component("vtimezone");
  vtz.addPropertyWithValue("tzid", tzid);
  const transitions = transitionsOf(tzid, from, to);
  const first = offsetAt(tzid, from);
  if (transitions.length === 0) {
    vtz.addSubcomponent(observance("standard", from, first, first, tzid));
    return vtz;
  }
  let prev = first;
  for (const t of transitions) {
    // Larger offset than the one before: clocks went forward (daylight time).
    vtz.addSubcomponent(observance(t.offset > prev ? "daylight" : "standard", t.atMs, prev, t.offset, tzid));
    prev = t.offset;
  }
  return vtz;
}

function transitionsOf(tzid: string, from: number, to: number): Array<{ atMs: number; offset: number }> {
  const out: Array<{ atMs: number; offset: number }> = [];
  const step = 86_400_000;
  let prevMs = from;
  let prevOff = offsetAt(tzid, from);
  for (let t = from + step; t <= to; t += step) {
    const off = offsetAt(tzid, t);
    if (off !== prevOff) {
      let lo = prevMs;
      let hi = t;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (offsetAt(tzid, mid) === prevOff) lo = mid;
        else hi = mid;
      }
      out.push({ atMs: hi, offset: off });
    }
    prevMs = t;
    prevOff = off;
  }
  return out;
}

/** One observance: from `atMs` on, `to` seconds east of UTC; DTSTART is the wall time in the offset before. */
function observance(kind: "standard" | "daylight", atMs: number, from: number, to: number, tzid: string): ICAL.Component {
  const c = new ICAL.Component(kind);
  const d = new Date(atMs + from * 1000);
  const wall = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
  c.addPropertyWithValue("dtstart", new ICAL.Time({ ...wall, isDate: false }, ICAL.Timezone.localTimezone));
  c.addPropertyWithValue("tzoffsetfrom", ICAL.UtcOffset.fromSeconds(from));
  c.addPropertyWithValue("tzoffsetto", ICAL.UtcOffset.fromSeconds(to));
  const name = abbreviation(tzid, atMs);
  if (name) c.addPropertyWithValue("tzname", name);
  return c;
}

function abbreviation(tzid: string, ms: number): string | undefined {
  try {
    const parts = new Intl.DateTimeFormat("en-US", { timeZone: tzid, timeZoneName: "short" }).formatToParts(new Date(ms));
    const n = parts.find((p) => p.type === "timeZoneName")?.value;
    return n && /^[A-Za-z0-9+:-]{1,16}$/.test(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
