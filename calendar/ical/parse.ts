import ICAL from "ical.js";
import { InvalidEventError } from "../errors.ts";
import { VtimezoneZone, intlZone, isKnownIanaZone } from "./zones.ts";

/**
 * Parsing one calendar object safely: a size limit before ical.js sees the
 * text, a single VCALENDAR, every TZID resolvable (in-file VTIMEZONE, else an
 * IANA name), and VTIMEZONE rules that cannot make ical.js spin.
 */

/** 1 MiB: far above any real event, far below what would hurt a Worker. */
export const DEFAULT_MAX_OBJECT_CHARS = 1 << 20;

export interface ParseOptions {
  objectId?: string;
  maxObjectChars?: number;
}

export function parseCalendar(ics: string, opts: ParseOptions = {}): ICAL.Component {
  return calendarFromJcal(parseJcal(ics, opts), opts.objectId);
}

/**
 * The text as ICAL.parse's jCal arrays, checked up to the single VCALENDAR.
 * Mapping reads the common event shapes straight from these
 * (calendar/ical/fast-read.ts) and builds ical.js's Component tree only for
 * the rest.
 */
export function parseJcal(ics: string, opts: ParseOptions = {}): unknown[] {
  const { objectId } = opts;
  const max = opts.maxObjectChars ?? DEFAULT_MAX_OBJECT_CHARS;
  if (typeof ics !== "string") throw new InvalidEventError("calendar object is not text", objectId);
  if (ics.length > max) {
    throw new InvalidEventError(`calendar object is ${ics.length} characters, more than the limit of ${max}`, objectId);
  }
  let jcal: unknown;
  try {
    jcal = ICAL.parse(ics);
  } catch (e) {
    throw new InvalidEventError(`not valid iCalendar: ${message(e)}`, objectId, { cause: e });
  }
  if (!Array.isArray(jcal) || jcal.length === 0) throw new InvalidEventError("no VCALENDAR in calendar object", objectId);
  if (Array.isArray(jcal[0])) {
    // ical.js returns a list when the text holds several top-level components.
    throw new InvalidEventError("calendar object holds more than one top-level component", objectId);
  }
  const name = jcal[0];
  if (name !== "vcalendar") throw new InvalidEventError(`top-level component is ${String(name).toUpperCase()}, not VCALENDAR`, objectId);
  return jcal;
}

/** The ical.js Component of checked jCal (parseJcal), every TZID resolvable. */
export function calendarFromJcal(jcal: unknown[], objectId: string | undefined): ICAL.Component {
  const root = new ICAL.Component(jcal);
  resolveZones(root, objectId);
  return root;
}

/**
 * Makes every TZID used in the object resolvable before any value is read:
 * ical.js reads a TZID as floating when it finds no zone, which would quietly
 * move the event by hours.
 */
function resolveZones(root: ICAL.Component, objectId: string | undefined): void {
  const inFile = new Set<string>();
  for (const vtz of root.getAllSubcomponents("vtimezone")) {
    const tzid = vtz.getFirstPropertyValue("tzid");
    if (typeof tzid !== "string" || !tzid) throw new InvalidEventError("VTIMEZONE without TZID", objectId);
    const rules = vtz.getAllSubcomponents().filter((c) => c.name === "standard" || c.name === "daylight");
    if (rules.length === 0) {
      // An empty VTIMEZONE would read as UTC; drop it and resolve the name like a bare TZID.
      root.removeSubcomponent(vtz);
      continue;
    }
    inFile.add(tzid);
    shareZone(root, vtz, tzid, () => {
      for (const rule of rules) checkZoneRule(rule, tzid, objectId);
    });
  }
  for (const tzid of usedTzids(root)) {
    if (inFile.has(tzid)) continue;
    if (!intlZone(tzid)) {
      throw new InvalidEventError(`unknown time zone "${clip(tzid)}" (no VTIMEZONE and not an IANA zone)`, objectId);
    }
  }
}

/**
 * ical.js builds a zone from a VTIMEZONE per calendar object and expands its
 * transitions from the rule's DTSTART (often 1970) on first use: most of the
 * cost of mapping an object from Thunderbird or Apple Calendar, which put the
 * same VTIMEZONE in every object. Objects whose VTIMEZONE text is identical
 * share one expanded zone (same text, same zone: nothing leaks between
 * calendars that differ). The shared zone is a VtimezoneZone, which reads gap
 * and repeated wall times as RFC 5545 says. If ical.js ever drops its per-root
 * zone cache, parsing refuses in-file VTIMEZONEs rather than read them wrong
 * (the mapping tests show it).
 */
const sharedZones = new Map<string, VtimezoneZone>();
const SHARED_ZONES_MAX = 512;

/** `check` runs for a VTIMEZONE not seen before: the same text passed it already. */
function shareZone(root: ICAL.Component, vtz: ICAL.Component, tzid: string, check: () => void): void {
  const cache = (root as unknown as { _timezoneCache?: unknown })._timezoneCache;
  if (!(cache instanceof Map)) throw new Error("ical.js no longer keeps a per-calendar zone cache: VTIMEZONE zones cannot be read per RFC 5545");
  cache.set(tzid, sharedZone(vtz.jCal, tzid, check));
}

/**
 * The shared zone for a VTIMEZONE's jCal (what the text means, not how it is
 * folded: serializing it is far cheaper than ical.js's toString). `check`
 * runs only for a VTIMEZONE not seen before. The jCal is copied, never kept.
 */
export function sharedZone(vtzJcal: unknown, tzid: string, check: () => void): VtimezoneZone {
  const key = JSON.stringify(vtzJcal);
  let zone = sharedZones.get(key);
  if (!zone) {
    check();
    zone = new VtimezoneZone({ component: new ICAL.Component(JSON.parse(key) as unknown[]), tzid });
    if (sharedZones.size >= SHARED_ZONES_MAX) sharedZones.clear();
    sharedZones.set(key, zone);
  }
  return zone;
}

export function checkZoneRule(rule: ICAL.Component, tzid: string, objectId: string | undefined): void {
  for (const name of ["dtstart", "tzoffsetfrom", "tzoffsetto"]) {
    if (!rule.hasProperty(name)) throw new InvalidEventError(`VTIMEZONE ${clip(tzid)}: ${rule.name.toUpperCase()} has no ${name.toUpperCase()}`, objectId);
  }
  for (const p of rule.getAllProperties("rrule")) {
    const v = p.getFirstValue() as ICAL.Recur | null;
    // Real zones change at most a few times a year; anything finer would let a
    // hostile VTIMEZONE make ical.js expand millions of transitions.
    if (!v || v.freq !== "YEARLY") throw new InvalidEventError(`VTIMEZONE ${clip(tzid)}: only yearly transition rules are accepted`, objectId);
  }
}

/**
 * TZIDs named anywhere outside VTIMEZONEs, read from the jCal arrays: asking
 * the Component would build an ical.js Property for every line of the object
 * just to look at its parameters.
 */
function usedTzids(root: ICAL.Component): Set<string> {
  return usedTzidsOf(root.jCal);
}

export function usedTzidsOf(jcal: unknown): Set<string> {
  const out = new Set<string>();
  walkTzids(jcal, 0, out);
  return out;
}

function walkTzids(jcal: unknown, depth: number, out: Set<string>): void {
  if (depth > 8 || !Array.isArray(jcal)) return;
  if (jcal[0] === "vtimezone") return;
  for (const p of (jcal[1] ?? []) as unknown[]) {
    const params = Array.isArray(p) ? (p[1] as Record<string, unknown> | undefined) : undefined;
    if (!params || !Object.hasOwn(params, "tzid")) continue;
    const tz = params.tzid;
    if (typeof tz === "string" && tz) out.add(tz);
    else if (Array.isArray(tz)) for (const t of tz) if (typeof t === "string") out.add(t);
  }
  for (const s of (jcal[2] ?? []) as unknown[]) walkTzids(s, depth + 1, out);
}

export function message(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return clip(m, 200);
}

export function clip(s: string, n = 80): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

export { isKnownIanaZone };
