import ICAL from "ical.js";
import { InvalidEventError, LabhogError, NotFoundError, ValidationError } from "../errors.ts";
import { IterationBudget } from "../recurrence/budget.ts";
import { recurrenceStartsMs } from "../recurrence/expand.ts";
import { parseCalendar } from "./parse.ts";
import { text } from "./properties.ts";
import { labZone } from "./read.ts";
import { instantMs, localize, rawTime, setTimeProperty, timeLike, timingOf, utcTime } from "./times.ts";
import type { IntlZone } from "./zones.ts";

/**
 * Edits of a series as calendar apps make them (RFC 5545 §3.8.5, §3.8.4.4):
 * cancelling one occurrence adds an EXDATE to the series (and drops that
 * occurrence's override, if any); "this and following" ends the series with
 * UNTIL just before the occurrence and starts a new series (a new UID) there,
 * carrying the later exceptions along. Changing one occurrence's times is a
 * RECURRENCE-ID override: patch.ts.
 */

export interface SeriesEditOptions {
  /** The lab's zone (floating and all-day series). */
  timezone: string;
  now?: Date;
  maxIterations?: number;
}

interface Parsed {
  root: ICAL.Component;
  master: ICAL.Component;
  lab: IntlZone;
}

function parseSeries(ics: string, opts: SeriesEditOptions): Parsed {
  const root = parseCalendar(ics);
  const events = root.getAllSubcomponents("vevent");
  const master = events.find((e) => !e.hasProperty("recurrence-id"));
  if (!master || !(master.hasProperty("rrule") || master.hasProperty("rdate"))) throw new NotFoundError("no recurring series in this calendar object");
  return { root, master, lab: labZone({ timezone: opts.timezone }) };
}

function ridMsOf(c: ICAL.Component, lab: IntlZone): number | undefined {
  const rid = rawTime(c, "recurrence-id");
  return rid ? instantMs(localize(rid, lab)) : undefined;
}

/** Marks a change a person made: DTSTAMP, LAST-MODIFIED and SEQUENCE move (as in patch.ts). */
function touch(c: ICAL.Component, now: Date): void {
  if (!c.hasProperty("created")) {
    const stamp = rawTime(c, "dtstamp");
    if (stamp) setTimeProperty(c, "created", stamp.clone());
  }
  setTimeProperty(c, "dtstamp", utcTime(now.getTime()));
  setTimeProperty(c, "last-modified", utcTime(now.getTime()));
  const seq = Number(c.getFirstPropertyValue("sequence"));
  c.updatePropertyWithValue("sequence", Number.isInteger(seq) && seq >= 0 ? seq + 1 : 1);
}

/** An EXDATE written like the series' DTSTART (same zone, date or date-time). */
function addExdate(master: ICAL.Component, ms: number, lab: IntlZone): void {
  const t = timeLike(ms, rawTime(master, "dtstart"), lab);
  const p = new ICAL.Property("exdate", master);
  master.addProperty(p);
  if (t.isDate) p.resetType("date");
  const zoned = t.zone && t.zone !== ICAL.Timezone.localTimezone && t.zone !== ICAL.Timezone.utcTimezone;
  if (zoned) p.setParameter("tzid", t.zone!.tzid);
  p.setValue(t);
}

/** Cancels one occurrence (its original start, ISO UTC): an EXDATE on the series, its override removed. */
export function cancelOccurrenceIcs(ics: string, recurrenceId: string, opts: SeriesEditOptions): string {
  const { root, master, lab } = parseSeries(ics, opts);
  const ridMs = Date.parse(recurrenceId);
  if (!Number.isFinite(ridMs)) throw new ValidationError(`recurrenceId "${recurrenceId}" is not an ISO date-time`);
  for (const e of root.getAllSubcomponents("vevent")) if (e !== master && ridMsOf(e, lab) === ridMs) root.removeSubcomponent(e);
  addExdate(master, ridMs, lab);
  touch(master, opts.now ?? new Date());
  return root.toString() + "\r\n";
}

export interface SplitSeries {
  /** The series, ended before the occurrence (null: the occurrence was the first, so nothing is left before it). */
  head: string | null;
  /** A new series (new UID) from the occurrence's original start, with the later exceptions. */
  tail: string;
}

/**
 * "This and following": the series ends with UNTIL one second before the
 * occurrence (COUNT becomes UNTIL), and a new series with `newUid` starts at
 * the occurrence's original start with what remains of the rule (COUNT less
 * the instances before, or the same UNTIL), the EXDATEs and overrides from
 * the occurrence on. Only series made of one RRULE (what labhog and calendar
 * apps write) can be split.
 */
export function splitSeriesIcs(ics: string, recurrenceId: string, newUid: string, opts: SeriesEditOptions): SplitSeries {
  const { root, master, lab } = parseSeries(ics, opts);
  const ridMs = Date.parse(recurrenceId);
  if (!Number.isFinite(ridMs)) throw new ValidationError(`recurrenceId "${recurrenceId}" is not an ISO date-time`);
  const rrules = master.getAllProperties("rrule");
  if (rrules.length !== 1 || master.hasProperty("rdate")) throw new LabhogError("series-shape", 422, "only a series made of one RRULE (no RDATE) can be split at an occurrence; change it in the calendar app");
  const rule = rrules[0]!.getFirstValue() as ICAL.Recur;
  const dtstart = rawTime(master, "dtstart");
  if (!dtstart) throw new InvalidEventError("event has no DTSTART");
  const startMs = instantMs(localize(dtstart, lab));
  const now = opts.now ?? new Date();
  const uid = text(master, "uid");

  // Instances of the rule before the occurrence (EXDATEs count: COUNT does, RFC 5545 §3.3.10).
  let before = 0;
  let found = false;
  const budget = new IterationBudget(opts.maxIterations);
  for (const ms of recurrenceStartsMs(master, lab, budget)) {
    if (ms === ridMs) found = true;
    if (ms >= ridMs) break;
    before++;
  }
  if (!found) throw new NotFoundError(`the series has no occurrence at ${recurrenceId}`);

  const tailRoot = new ICAL.Component(structuredClone(root.toJSON()) as unknown[]);
  for (const e of tailRoot.getAllSubcomponents("vevent")) tailRoot.removeSubcomponent(e);
  const tailMaster = new ICAL.Component(structuredClone(master.toJSON()) as unknown[]);
  tailRoot.addSubcomponent(tailMaster);
  tailMaster.updatePropertyWithValue("uid", newUid);
  const length = timingOf(master, lab, undefined);
  const like = dtstart;
  setTimeProperty(tailMaster, "dtstart", timeLike(ridMs, like, lab));
  if (tailMaster.hasProperty("dtend")) {
    const endLike = rawTime(master, "dtend");
    const lenMs = length.length.kind === "exact" ? length.length.ms : instantMs(localize(endLike!, lab)) - startMs;
    setTimeProperty(tailMaster, "dtend", timeLike(ridMs + lenMs, endLike, lab));
  }
  const tailRule = rule.clone();
  if (rule.count) tailRule.count = rule.count - before;
  tailMaster.removeAllProperties("rrule");
  tailMaster.addPropertyWithValue("rrule", tailRule);
  keepExdates(tailMaster, lab, (ms) => ms >= ridMs);
  for (const name of ["created", "last-modified"]) tailMaster.removeAllProperties(name);
  setTimeProperty(tailMaster, "created", utcTime(now.getTime()));
  setTimeProperty(tailMaster, "dtstamp", utcTime(now.getTime()));
  tailMaster.updatePropertyWithValue("sequence", 0);

  for (const e of root.getAllSubcomponents("vevent")) {
    if (e === master || text(e, "uid") !== uid) continue;
    const rid = ridMsOf(e, lab);
    if (rid === undefined || rid < ridMs) continue;
    root.removeSubcomponent(e);
    // The occurrence's own override is replaced by the new series' first instance.
    if (rid === ridMs) continue;
    e.updatePropertyWithValue("uid", newUid);
    tailRoot.addSubcomponent(e);
  }

  let head: string | null = null;
  if (before > 0 && ridMs > startMs) {
    const headRule = rule.clone();
    headRule.count = null as unknown as number;
    delete (headRule as { count?: number }).count;
    headRule.until = untilLike(ridMs - 1000, dtstart, lab);
    master.removeAllProperties("rrule");
    master.addPropertyWithValue("rrule", headRule);
    keepExdates(master, lab, (ms) => ms < ridMs);
    touch(master, now);
    head = root.toString() + "\r\n";
  }
  return { head, tail: tailRoot.toString() + "\r\n" };
}

/** UNTIL in the form RFC 5545 §3.3.10 asks: a date for an all-day series, floating for a floating one, else UTC. */
function untilLike(ms: number, dtstart: ICAL.Time, lab: IntlZone): ICAL.Time {
  if (dtstart.isDate) {
    const t = timeLike(ms, dtstart, lab);
    if (t.isDate) return t;
    const w = utcTime(ms).convertToZone(lab);
    return new ICAL.Time({ year: w.year, month: w.month, day: w.day, isDate: true }, ICAL.Timezone.localTimezone);
  }
  const floating = !dtstart.zone || dtstart.zone === ICAL.Timezone.localTimezone || dtstart.zone.tzid === "floating";
  return floating ? timeLike(ms, dtstart, lab) : utcTime(ms);
}

/** Keeps only the EXDATE values `keep` accepts (by instant). */
function keepExdates(c: ICAL.Component, lab: IntlZone, keep: (ms: number) => boolean): void {
  for (const p of c.getAllProperties("exdate")) {
    const values = p.getValues().filter((v): v is ICAL.Time => v instanceof ICAL.Time);
    const kept = values.filter((v) => keep(instantMs(localize(v, lab))));
    if (kept.length === values.length) continue;
    if (kept.length === 0) c.removeProperty(p);
    else p.setValues(kept);
  }
}

/**
 * The exceptions of a series (EXDATEs, override RECURRENCE-IDs) moved to where
 * `shift` puts each original start: when "this and following" moves the new
 * series' start, its instances move and the exceptions must name the new
 * instances, as calendar apps do. Each is written in its own style (zone,
 * date or date-time).
 */
export function shiftExceptionsIcs(ics: string, shift: (ms: number) => number, opts: SeriesEditOptions): string {
  const { root, master, lab } = parseSeries(ics, opts);
  for (const p of master.getAllProperties("exdate")) {
    const values = p.getValues().filter((v): v is ICAL.Time => v instanceof ICAL.Time);
    p.setValues(values.map((v) => timeLike(shift(instantMs(localize(v, lab))), v, lab)));
  }
  for (const e of root.getAllSubcomponents("vevent")) {
    if (e === master) continue;
    const rid = rawTime(e, "recurrence-id");
    if (rid) setTimeProperty(e, "recurrence-id", timeLike(shift(instantMs(localize(rid, lab))), rid, lab));
  }
  return root.toString() + "\r\n";
}

/** Whether the series' rule names weekdays (BYDAY): moving its start to another day would not move the rule. */
export function ruleHasByDay(ics: string, opts: SeriesEditOptions): boolean {
  const { master } = parseSeries(ics, opts);
  return master.getAllProperties("rrule").some((p) => {
    const r = p.getFirstValue() as ICAL.Recur;
    return Array.isArray(r.parts?.BYDAY) && r.parts.BYDAY.length > 0;
  });
}
