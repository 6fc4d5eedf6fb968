import ICAL from "ical.js";
import { InvalidEventError } from "../errors.ts";
import { addDurationMs, checkYear, endMs, instantMs, localize, readTime, timingOf, type EventLength, type EventTiming } from "../ical/times.ts";
import { firstTimeValue } from "../ical/fast-time.ts";
import type { IntlZone } from "../ical/zones.ts";
import { IterationBudget } from "./budget.ts";
import { ruleStarts } from "./rule.ts";

/**
 * Expands one UID's components (the series master and its RECURRENCE-ID
 * overrides) into the occurrences that touch a window.
 *
 * - The recurrence set is DTSTART, every RRULE and RDATE instance, minus
 *   EXDATE (RFC 5545 §3.8.5). DTSTART always counts, as in the RFC's own
 *   "Friday the 13th" example, which has to EXDATE it.
 * - An override replaces the instance its RECURRENCE-ID names; with
 *   RANGE=THISANDFUTURE it also shifts and re-describes every later instance
 *   (until a later THISANDFUTURE override takes over). ical.js's own handling
 *   of both keys exceptions by their text form, which misses when master and
 *   override use different zones; here they are matched by instant.
 * - An override whose instance the rules do not generate is kept (a moved
 *   booking should not vanish), unless EXDATE names it.
 * - STATUS:CANCELLED on an override removes that instance (or, with
 *   THISANDFUTURE, all later ones).
 * - An instance whose wall time falls in a DST gap is kept and moved forward
 *   by the gap, a repeated wall time is its first pass: RFC 5545 §3.3.10 says
 *   to read instance times "in the same manner as an explicit DATE-TIME"
 *   (§3.3.5). The same section's other sentence, that instances at a
 *   nonexistent local time "MUST be ignored", would silently drop a weekly
 *   02:30 booking once a year (the oracle in test/calendar/time keeps it too).
 */

export interface Occurrence {
  /** Original start (RECURRENCE-ID) in ms, for instances of a recurring event. */
  recurrenceIdMs?: number;
  startMs: number;
  endMs: number;
  allDay: boolean;
  /** The component whose properties describe this occurrence (master or override). */
  component: ICAL.Component;
}

export interface ExpandOptions {
  window: { startMs: number; endMs: number };
  lab: IntlZone;
  budget: IterationBudget;
  objectId?: string;
}

export interface SeriesResult {
  recurring: boolean;
  occurrences: Occurrence[];
}

interface Override {
  ridMs: number;
  component: ICAL.Component;
  timing: EventTiming;
  startMs: number;
  endMs: number;
  cancelled: boolean;
  thisAndFuture: boolean;
}

export function overlapsWindow(startMs: number, end: number, w: { startMs: number; endMs: number }): boolean {
  if (startMs >= w.endMs) return false;
  return end > w.startMs || (end === startMs && startMs >= w.startMs);
}

export function isCancelled(c: ICAL.Component): boolean {
  const s = c.getFirstPropertyValue("status");
  return typeof s === "string" && s.toUpperCase() === "CANCELLED";
}

export function expandSeries(master: ICAL.Component | undefined, overrideComps: ICAL.Component[], opts: ExpandOptions): SeriesResult {
  const { lab, budget, objectId, window } = opts;
  const overrides: Override[] = overrideComps.map((component) => {
    budget.spend();
    const rid = readTime(component, "recurrence-id", lab, objectId);
    if (!rid) throw new InvalidEventError("RECURRENCE-ID is not a valid date or date-time", objectId);
    const timing = timingOf(component, lab, objectId);
    const startMs = instantMs(timing.start);
    const range = component.getFirstProperty("recurrence-id")?.getParameter("range");
    return {
      ridMs: instantMs(rid),
      component,
      timing,
      startMs,
      endMs: endMs(timing.start, timing.length),
      cancelled: isCancelled(component),
      thisAndFuture: typeof range === "string" && range.toUpperCase() === "THISANDFUTURE",
    };
  });
  const exact = new Map<number, Override>();
  for (const o of overrides) {
    const prev = exact.get(o.ridMs);
    // Two overrides for one instance: the later SEQUENCE wins, as in iTIP.
    if (!prev || sequenceOf(o.component) >= sequenceOf(prev.component)) exact.set(o.ridMs, o);
  }

  if (!master) {
    const occurrences = [...exact.values()]
      .filter((o) => !o.cancelled && overlapsWindow(o.startMs, o.endMs, window))
      .map((o) => ({ recurrenceIdMs: o.ridMs, startMs: o.startMs, endMs: o.endMs, allDay: o.timing.allDay, component: o.component }));
    return { recurring: true, occurrences };
  }

  const timing = timingOf(master, lab, objectId);
  // A cancelled series is cancelled whole, whatever its overrides say.
  const recurring = master.hasProperty("rrule") || master.hasProperty("rdate");
  if (isCancelled(master)) return { recurring, occurrences: [] };
  const excluded = exclusions(master, lab, objectId, budget);

  const out: Occurrence[] = [];
  for (const o of exact.values()) {
    if (o.cancelled) continue;
    if (excluded.instants.has(o.ridMs)) continue;
    if (!overlapsWindow(o.startMs, o.endMs, window)) continue;
    out.push({ recurrenceIdMs: recurring || o.ridMs !== instantMs(timing.start) ? o.ridMs : undefined, startMs: o.startMs, endMs: o.endMs, allDay: o.timing.allDay, component: o.component });
  }

  const ranges = overrides.length ? overrides.filter((o) => o.thisAndFuture).sort((a, b) => a.ridMs - b.ridMs) : NO_OVERRIDES;
  // A THISANDFUTURE override may move later instances earlier: look that far past the window.
  let lookahead = 0;
  for (const r of ranges) lookahead = Math.max(lookahead, r.ridMs - r.startMs);
  const stopAt = window.endMs + lookahead;
  // Rule instances that start before this cannot reach into the window, even
  // moved later by a THISANDFUTURE override: the rules may skip them.
  let reach = lengthBoundMs(timing.length);
  for (const r of ranges) reach = Math.max(reach, r.endMs - r.ridMs);
  const fromMs = window.startMs - reach - DAY_MS;

  let rangeIdx = -1;
  // Without RRULE or RDATE the set is DTSTART alone: no merging of sources needed.
  const set: Iterable<Instance> = recurring ? instances(master, timing, lab, budget, objectId, fromMs) : [{ start: timing.start }];
  for (const inst of set) {
    const ridMs = instantMs(inst.start);
    if (ridMs >= stopAt) break;
    if (excluded.instants.has(ridMs) || (excluded.dates.size > 0 && excluded.dates.has(dateKey(inst.start)))) continue;
    if (exact.has(ridMs)) continue;
    while (rangeIdx + 1 < ranges.length && ranges[rangeIdx + 1]!.ridMs <= ridMs) rangeIdx++;
    const range = rangeIdx >= 0 ? ranges[rangeIdx] : undefined;
    let occ: Occurrence;
    if (range) {
      if (range.cancelled) continue;
      const startMs = ridMs + (range.startMs - range.ridMs);
      occ = { recurrenceIdMs: ridMs, startMs, endMs: startMs + (range.endMs - range.startMs), allDay: range.timing.allDay, component: range.component };
    } else {
      occ = {
        recurrenceIdMs: recurring ? ridMs : undefined,
        startMs: ridMs,
        endMs: inst.endMs ?? endMs(inst.start, timing.length),
        allDay: timing.allDay,
        component: master,
      };
    }
    if (overlapsWindow(occ.startMs, occ.endMs, window)) out.push(occ);
  }
  out.sort((a, b) => a.startMs - b.startMs || (a.recurrenceIdMs ?? 0) - (b.recurrenceIdMs ?? 0));
  return { recurring, occurrences: out };
}

/**
 * Start instants (ms) of a master's recurrence set, EXDATE not applied, paid
 * from `budget`: the listing filters (calendar/backends/time-range.ts) walk a
 * series with exactly the machinery and cap that mapping uses.
 */
export function* recurrenceStartsMs(master: ICAL.Component, lab: IntlZone, budget: IterationBudget, objectId?: string): Generator<number> {
  const timing = timingOf(master, lab, objectId);
  for (const inst of instances(master, timing, lab, budget, objectId)) yield instantMs(inst.start);
}

interface Instance {
  start: ICAL.Time;
  /** Set for RDATE periods, which carry their own end. */
  endMs?: number;
}

/** The recurrence set of a master in ascending order, duplicates removed (EXDATE applied by the caller). */
function* instances(master: ICAL.Component, timing: EventTiming, lab: IntlZone, budget: IterationBudget, objectId: string | undefined, fromMs?: number): Generator<Instance> {
  const heads: Array<{ next: Instance | undefined; ms: number; it?: Generator<ICAL.Time> }> = [];
  const dtstart = timing.start;
  heads.push({ next: { start: dtstart }, ms: instantMs(dtstart) });

  const rrules = master.getAllProperties("rrule");
  if (rrules.length > 16) throw new InvalidEventError(`event has ${rrules.length} RRULEs`, objectId);
  for (const p of rrules) {
    let rule: unknown;
    try {
      rule = p.getFirstValue();
    } catch (e) {
      throw new InvalidEventError("RRULE is not valid", objectId, { cause: e });
    }
    if (!(rule instanceof ICAL.Recur) || !rule.freq) throw new InvalidEventError("RRULE has no valid FREQ", objectId);
    if (!Number.isInteger(rule.interval) || rule.interval < 1) throw new InvalidEventError("RRULE INTERVAL must be a positive integer", objectId);
    let it: Generator<ICAL.Time>;
    try {
      it = countFromDtstart(ruleStarts(rule, dtstart, budget, fromMs), rule, dtstart);
    } catch (e) {
      throw new InvalidEventError(`RRULE cannot be expanded: ${(e as Error).message}`, objectId, { cause: e });
    }
    heads.push(advance({ next: undefined, ms: Infinity, it }));
  }

  const rdates: Instance[] = [];
  for (const p of master.getAllProperties("rdate")) {
    for (const v of p.getValues() as unknown[]) {
      budget.spend();
      if (v instanceof ICAL.Period) {
        checkYear(v.start, "rdate", objectId);
        if (v.end) checkYear(v.end, "rdate", objectId);
        const s = localize(v.start, lab);
        const e = v.end ? instantMs(localize(v.end, lab)) : v.duration ? addDurationMs(s, v.duration) : undefined;
        if (e !== undefined && e < instantMs(s)) throw new InvalidEventError("RDATE period ends before it starts", objectId);
        rdates.push({ start: s, endMs: e });
      } else if (v instanceof ICAL.Time) {
        checkYear(v, "rdate", objectId);
        rdates.push({ start: localize(v, lab) });
      } else {
        throw new InvalidEventError("RDATE value is not a date, date-time or period", objectId);
      }
    }
  }
  rdates.sort((a, b) => instantMs(a.start) - instantMs(b.start));
  let ri = 0;
  const rdateIt = (function* () { while (ri < rdates.length) yield rdates[ri++]!; })();
  heads.push(advanceInstances({ next: undefined, ms: Infinity, inst: rdateIt }));

  let lastMs = -Infinity;
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i]!;
      if (h.next && (best < 0 || h.ms < heads[best]!.ms)) best = i;
    }
    if (best < 0) return;
    const h = heads[best]!;
    const cur = h.next!;
    const ms = h.ms;
    if (best === 0) h.next = undefined;
    else if (h.it) advance(h);
    else advanceInstances(h as HeadI);
    if (!Number.isFinite(ms)) throw new InvalidEventError("recurrence produced an invalid time", objectId);
    // The same instant from two sources is one instance (RFC 5545 §3.8.5.2).
    if (ms <= lastMs) continue;
    lastMs = ms;
    yield cur;
  }
}

type HeadT = { next: Instance | undefined; ms: number; it?: Generator<ICAL.Time> };
type HeadI = { next: Instance | undefined; ms: number; inst: Generator<Instance> };

function advance(h: HeadT): HeadT {
  const r = h.it!.next();
  if (r.done) {
    h.next = undefined;
    h.ms = Infinity;
  } else {
    h.next = { start: r.value };
    h.ms = instantMs(r.value);
  }
  return h;
}

function advanceInstances(h: HeadI): HeadI {
  const r = h.inst.next();
  if (r.done) {
    h.next = undefined;
    h.ms = Infinity;
  } else {
    h.next = r.value;
    h.ms = instantMs(r.value.start);
  }
  return h;
}

/**
 * RFC 5545: "The DTSTART property value always counts as the first
 * occurrence." When DTSTART is not itself an instance of the rule, a COUNT
 * rule yields one instance fewer, so the set still has COUNT members.
 */
function* countFromDtstart(it: Generator<ICAL.Time>, rule: ICAL.Recur, dtstart: ICAL.Time): Generator<ICAL.Time> {
  const count = rule.count;
  let produced = 0;
  let first = true;
  for (const t of it) {
    if (first) {
      first = false;
      if (count && t.compare(dtstart) !== 0) produced++;
    }
    if (count && produced >= count) return;
    produced++;
    yield t;
  }
}

const DAY_MS = 86_400_000;

/** The longest an occurrence of this length can last (nominal days count 25 hours: DST). */
export function lengthBoundMs(length: EventLength): number {
  switch (length.kind) {
    case "exact":
      return length.ms;
    case "days":
      return length.days * 25 * 3_600_000;
    case "nominal": {
      const d = length.duration;
      return (d.weeks * 7 + d.days) * 25 * 3_600_000 + (d.hours * 3600 + d.minutes * 60 + d.seconds) * 1000;
    }
  }
}

const NO_OVERRIDES: Override[] = [];
/** Shared by every master without EXDATE (read only). */
const NO_EXCLUSIONS = { instants: new Set<number>(), dates: new Set<string>() };

function exclusions(master: ICAL.Component, lab: IntlZone, objectId: string | undefined, budget: IterationBudget): { instants: ReadonlySet<number>; dates: ReadonlySet<string> } {
  if (!master.hasProperty("exdate")) return NO_EXCLUSIONS;
  const instants = new Set<number>();
  const dates = new Set<string>();
  const dtstart = master.getFirstPropertyValue("dtstart");
  const dtstartIsDate = dtstart instanceof ICAL.Time && dtstart.isDate;
  for (const p of master.getAllProperties("exdate")) {
    // One value per line is the common form: decoded the fast way (calendar/ical/fast-time.ts).
    const values = (p.jCal as unknown[]).length === 4 ? [firstTimeValue(p)] : (p.getValues() as unknown[]);
    for (const v of values) {
      budget.spend();
      if (!(v instanceof ICAL.Time)) throw new InvalidEventError("EXDATE value is not a date or date-time", objectId);
      checkYear(v, "exdate", objectId);
      // A DATE exdate on a timed series removes that day's instance (as ical.js does).
      if (v.isDate && !dtstartIsDate) dates.add(dateKey(v));
      else instants.add(instantMs(localize(v, lab)));
    }
  }
  return { instants, dates };
}

function dateKey(t: ICAL.Time): string {
  return `${t.year}-${t.month}-${t.day}`;
}

function sequenceOf(c: ICAL.Component): number {
  const s = Number(c.getFirstPropertyValue("sequence"));
  return Number.isFinite(s) ? s : 0;
}
