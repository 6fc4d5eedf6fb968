import ICAL from "ical.js";
import type { Reservation } from "../model.ts";
import { DEFAULT_MAX_ITERATIONS, iterationBudget, type IterationBudget } from "../recurrence/budget.ts";
import { lengthBoundMs, overlapsWindow } from "../recurrence/expand.ts";
import { simplePlan, type SimplePlan } from "../recurrence/rule.ts";
import { simpleRuleDays } from "../recurrence/simple-rule.ts";
import { describe, reservationOf, type Described, type Slot } from "./describe.ts";
import { checkZoneRule, sharedZone, usedTzidsOf } from "./parse.ts";
import { X } from "./properties.ts";
import { NOT_FAST, jcalReader, textOf, type PropReader } from "./prop-reader.ts";
import type { MappingContext } from "./read.ts";
import { MAX_YEAR, MIN_YEAR, isoUtc, type EventLength } from "./times.ts";
import { IntlZone, VtimezoneZone, intlZone, type Wall } from "./zones.ts";

/**
 * Mapping the common calendar objects straight from ICAL.parse's jCal
 * arrays, without ical.js's Component, Property and Time objects: VEVENTs
 * with DTSTART and DTEND, DURATION or neither; UTC, floating, all-day or
 * zoned (IANA or the object's own VTIMEZONE) times; at most one DAILY/WEEKLY
 * RRULE of the simple form (calendar/recurrence/simple-rule.ts); EXDATE;
 * RECURRENCE-ID overrides, THISANDFUTURE too. Instants come from the same
 * zones (calendar/ical/zones.ts) and the same day walk as on the ical.js
 * path, as numbers; the steps are expand.ts expandSeries' own.
 *
 * Anything else — RDATE, other rules, a field ical.js would normalize, any
 * error at all — returns undefined, and the caller maps the object the full
 * way, which also words every error. So this path only ever answers what the
 * full path answers (test/calendar/ical/fast-read.test.ts runs both on every
 * calendar object the tests hold and on generated ones).
 */
export function fastReservations(jcal: unknown[], ctx: MappingContext, lab: IntlZone, window: { startMs: number; endMs: number }, nowMs: number): Reservation[] | undefined {
  try {
    return read(jcal, ctx, lab, window, nowMs);
  } catch {
    return undefined;
  }
}

type JProp = unknown[];
type JComp = [string, JProp[], JComp[]];

/** Leaves the fast path for this object. */
function bail(): never {
  throw NOT_FAST;
}

/**
 * One VEVENT: its jCal properties and a reader over them. Every field is
 * present from the start (no shapes that grow), for the reason jcalReader gives.
 */
interface Comp {
  props: JProp[];
  r: PropReader;
  described: Described | undefined;
}

interface Group {
  uid: string;
  master: Comp | undefined;
  overrides: Comp[];
}

function read(jcal: unknown[], ctx: MappingContext, lab: IntlZone, window: { startMs: number; endMs: number }, nowMs: number): Reservation[] {
  const subs = jcal[2] as JComp[];
  const zones = new Map<string, ICAL.Timezone>();
  const events: JComp[] = [];
  for (const s of subs) {
    if (s[0] === "vevent") events.push(s);
    else if (s[0] === "vtimezone") inFileZone(s, zones);
  }
  if (hasTzid(jcal, 0)) for (const tzid of usedTzidsOf(jcal)) if (!zones.has(tzid) && !intlZone(tzid)) bail();

  // The same spending as the full path; a small margin keeps this path from
  // answering where the full one would stop at the cap.
  const budget = iterationBudget((ctx.maxIterations ?? DEFAULT_MAX_ITERATIONS) - 16);
  // By UID in order of appearance, as read.ts groupByUid (objects hold one or a few).
  const groups: Group[] = [];
  for (const ev of events) {
    budget.spend();
    const c: Comp = { props: ev[1], r: jcalReader(ev[1]), described: undefined };
    const uid = textOf(c.r, "uid");
    if (!uid) bail();
    let g = groups.find((x) => x.uid === uid);
    if (!g) groups.push((g = { uid, master: undefined, overrides: [] }));
    if (c.r.has("recurrence-id")) g.overrides.push(c);
    else if (g.master) bail();
    else g.master = c;
  }

  const out: Reservation[] = [];
  for (const g of groups) {
    if (textOf((g.master ?? g.overrides[0]!).r, X.kind)?.trim().toLowerCase() === "notice") continue;
    const { recurring, slots } = series(g, zones, lab, window, budget);
    for (const slot of slots) {
      const c = slot.comp;
      const m = g.master && g.master !== c ? g.master : undefined;
      c.described ??= describe(c.r, m?.r, ctx, utcText(c.props, "created") ?? (m && utcText(m.props, "created")), utcText(c.props, "dtstamp") ?? (m && utcText(m.props, "dtstamp")));
      out.push(reservationOf(g.uid, slot, c.described, recurring || c !== g.master, ctx, nowMs));
    }
  }
  return out;
}

/**
 * Whether any property outside VTIMEZONEs has a TZID parameter (usedTzidsOf
 * collects them, in a Set): most objects name no zone, and this look costs
 * no allocation.
 */
function hasTzid(jcal: unknown, depth: number): boolean {
  if (depth > 8 || !Array.isArray(jcal) || jcal[0] === "vtimezone") return false;
  for (const p of (jcal[1] ?? []) as unknown[][]) {
    const params = p[1] as Record<string, unknown> | undefined;
    if (params && params.tzid !== undefined) return true;
  }
  for (const s of (jcal[2] ?? []) as unknown[]) if (hasTzid(s, depth + 1)) return true;
  return false;
}

/** An in-file VTIMEZONE, shared with the full path's zone cache (calendar/ical/parse.ts). */
function inFileZone(vtz: JComp, zones: Map<string, ICAL.Timezone>): void {
  const tzidProp = vtz[1].find((p) => p[0] === "tzid");
  const tzid = tzidProp?.[3];
  if (typeof tzid !== "string" || !tzid || tzidProp![2] !== "text" || zones.has(tzid)) bail();
  // An empty VTIMEZONE is dropped by the full path: leave that to it.
  if (!vtz[2].some((c) => c[0] === "standard" || c[0] === "daylight")) bail();
  zones.set(tzid, sharedZone(vtz, tzid, () => {
    const comp = new ICAL.Component(JSON.parse(JSON.stringify(vtz)) as unknown[]);
    for (const rule of comp.getAllSubcomponents()) if (rule.name === "standard" || rule.name === "daylight") checkZoneRule(rule, tzid, undefined);
  }));
}

/** CREATED/DTSTAMP as a plain UTC date-time; anything else is left to the full path. */
function utcText(props: JProp[], name: string): string | undefined {
  const p = prop(props, name);
  if (!p) return undefined;
  const t = timeOf(p, undefined, undefined, p[3]);
  if (t.zone !== UTC) bail();
  return isoUtc(t.ms);
}

const UTC = ICAL.Timezone.utcTimezone;
const DAY_MS = 86_400_000;

/** A date or date-time as found in the event, its zone attached (floating and dates: the lab's). */
interface FastTime {
  day: number;
  hour: number;
  minute: number;
  second: number;
  isDate: boolean;
  zone: ICAL.Timezone;
  ms: number;
}

/**
 * One date or date-time value of property `p`: what firstTimeValue and
 * localize make of it on the full path. Only values every field of which
 * is in range (no ical.js normalization), in the years mapping accepts.
 * Read by hand: ICAL.parse leaves them as "2026-03-01T08:00:00Z" text.
 */
function timeOf(p: JProp, zones: Map<string, ICAL.Timezone> | undefined, lab: IntlZone | undefined, value: unknown): FastTime {
  if (typeof value !== "string") bail();
  const type = p[2];
  let isDate: boolean;
  let zone: ICAL.Timezone;
  if (type === "date-time" && (value.length === 19 || (value.length === 20 && value.charCodeAt(19) === 90 /* Z */)) && value.charCodeAt(10) === 84 /* T */ && value.charCodeAt(13) === 58 && value.charCodeAt(16) === 58) {
    isDate = false;
    if (value.length === 20) zone = UTC;
    else {
      const tzid = (p[1] as Record<string, unknown>).tzid;
      if (tzid === undefined && !Object.hasOwn(p[1] as object, "tzid")) zone = lab ?? bail();
      else if (typeof tzid !== "string" || !tzid || !zones) bail();
      else zone = zones.get(tzid) ?? ICAL.TimezoneService.get(tzid) ?? bail();
    }
  } else if (type === "date" && value.length === 10) {
    isDate = true;
    zone = lab ?? bail();
  } else {
    bail();
  }
  if (value.charCodeAt(4) !== 45 || value.charCodeAt(7) !== 45) bail();
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 2);
  const dom = digits(value, 8, 2);
  const hour = isDate ? 0 : digits(value, 11, 2);
  const minute = isDate ? 0 : digits(value, 14, 2);
  const second = isDate ? 0 : digits(value, 17, 2);
  if (!(year >= MIN_YEAR && year <= MAX_YEAR && month >= 1 && month <= 12 && dom >= 1 && dom <= daysInMonth(month, year) && hour >= 0 && hour < 24 && minute >= 0 && minute < 60 && second >= 0 && second < 60)) bail();
  const day = Date.UTC(year, month - 1, dom) / DAY_MS;
  return { day, hour, minute, second, isDate, zone, ms: instantOf(day, hour, minute, second, zone) };
}

/** The decimal number in `s` at [i, i+n), or -1 when any of it is not a digit. */
function digits(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = i; k < i + n; k++) {
    const c = s.charCodeAt(k) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(month: number, year: number): number {
  if (month !== 2) return MONTH_DAYS[month - 1]!;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

const scratch: Wall = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };

/** ICAL.Time#toUnixTime's arithmetic (ms) for a wall time in one of the zones mapping uses. */
function instantOf(day: number, hour: number, minute: number, second: number, zone: ICAL.Timezone): number {
  const base = day * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000;
  if (zone === UTC) return base;
  if (!(zone instanceof IntlZone || zone instanceof VtimezoneZone)) bail();
  const d = new Date(day * DAY_MS);
  scratch.year = d.getUTCFullYear();
  scratch.month = d.getUTCMonth() + 1;
  scratch.day = d.getUTCDate();
  scratch.hour = hour;
  scratch.minute = minute;
  scratch.second = second;
  // The zones read nothing but these six fields (calendar/ical/zones.ts).
  return base - zone.utcOffset(scratch as unknown as ICAL.Time) * 1000;
}

function prop(props: JProp[], name: string): JProp | undefined {
  for (const p of props) if (p[0] === name) return p;
  return undefined;
}

function timingOf(props: JProp[], zones: Map<string, ICAL.Timezone>, lab: IntlZone): { start: FastTime; length: EventLength } {
  const dtstart = prop(props, "dtstart");
  if (!dtstart || dtstart.length !== 4) bail();
  const start = timeOf(dtstart, zones, lab, dtstart[3]);
  const dtend = prop(props, "dtend");
  if (dtend && dtend.length !== 4) bail();
  const end = dtend && timeOf(dtend, zones, lab, dtend[3]);
  let duration: ICAL.Duration | undefined;
  if (!end) {
    const p = prop(props, "duration");
    if (p) {
      if (p.length !== 4 || p[2] !== "duration" || typeof p[3] !== "string") bail();
      duration = ICAL.Duration.fromString(p[3]);
      if (duration.isNegative && duration.toSeconds() !== 0) bail();
    }
  }
  if (start.isDate) {
    if (end) {
      if (!end.isDate || end.day < start.day) bail();
      // DTEND equal to DTSTART is a common producer slip for "that day".
      return { start, length: { kind: "days", days: Math.max(end.day - start.day, 1) } };
    }
    if (duration) return { start, length: { kind: "nominal", duration } };
    return { start, length: { kind: "days", days: 1 } };
  }
  if (end) {
    if (end.isDate || end.ms < start.ms) bail();
    return { start, length: { kind: "exact", ms: end.ms - start.ms } };
  }
  if (duration) return { start, length: { kind: "nominal", duration } };
  return { start, length: { kind: "exact", ms: 0 } };
}

/** End of an instance that starts on `day` at the series' wall time (times.ts endMs). */
function endOf(startMs: number, day: number, start: FastTime, length: EventLength): number {
  switch (length.kind) {
    case "exact":
      return startMs + length.ms;
    case "days":
      return instantOf(day + length.days, start.hour, start.minute, start.second, start.zone);
    case "nominal": {
      const d = length.duration;
      const sign = d.isNegative ? -1 : 1;
      const days = sign * (d.weeks * 7 + d.days);
      const from = days === 0 ? startMs : instantOf(day + days, start.hour, start.minute, start.second, start.zone);
      return from + sign * (d.hours * 3600 + d.minutes * 60 + d.seconds) * 1000;
    }
  }
}

/** An occurrence and the component that describes it. */
interface FastSlot extends Slot {
  comp: Comp;
}

/** A RECURRENCE-ID override, as expandSeries reads it. */
interface Override {
  ridMs: number;
  comp: Comp;
  start: FastTime;
  startMs: number;
  endMs: number;
  cancelled: boolean;
  thisAndFuture: boolean;
}

function isCancelled(r: PropReader): boolean {
  const s = r.first("status");
  return typeof s === "string" && s.toUpperCase() === "CANCELLED";
}

function sequenceOf(r: PropReader): number {
  const s = Number(r.first("sequence"));
  return Number.isFinite(s) ? s : 0;
}

/**
 * One UID's occurrences in the window: expand.ts expandSeries, step for
 * step, on numbers (overrides matched by instant, THISANDFUTURE shifting
 * later instances, the later SEQUENCE winning between two overrides).
 */
function series(g: Group, zones: Map<string, ICAL.Timezone>, lab: IntlZone, window: { startMs: number; endMs: number }, budget: IterationBudget): { recurring: boolean; slots: FastSlot[] } {
  const overrides: Override[] = g.overrides.map((comp) => {
    budget.spend();
    const ridProp = prop(comp.props, "recurrence-id")!;
    if (ridProp.length !== 4) bail();
    const rid = timeOf(ridProp, zones, lab, ridProp[3]);
    const { start, length } = timingOf(comp.props, zones, lab);
    const range = (ridProp[1] as Record<string, unknown>).range;
    return {
      ridMs: rid.ms,
      comp,
      start,
      startMs: start.ms,
      endMs: endOf(start.ms, start.day, start, length),
      cancelled: isCancelled(comp.r),
      thisAndFuture: typeof range === "string" && range.toUpperCase() === "THISANDFUTURE",
    };
  });
  const exact = new Map<number, Override>();
  for (const o of overrides) {
    const prev = exact.get(o.ridMs);
    if (!prev || sequenceOf(o.comp.r) >= sequenceOf(prev.comp.r)) exact.set(o.ridMs, o);
  }
  const master = g.master;
  if (!master) {
    const slots: FastSlot[] = [];
    for (const o of exact.values()) {
      if (!o.cancelled && overlapsWindow(o.startMs, o.endMs, window)) slots.push({ recurrenceIdMs: o.ridMs, startMs: o.startMs, endMs: o.endMs, allDay: o.start.isDate, comp: o.comp });
    }
    return { recurring: true, slots };
  }

  const { start, length } = timingOf(master.props, zones, lab);
  if (master.r.has("rdate")) bail();
  const recurring = master.r.has("rrule");
  if (isCancelled(master.r)) return { recurring, slots: [] };
  const excluded = exclusions(master.props, start, zones, lab, budget);

  const out: FastSlot[] = [];
  for (const o of exact.values()) {
    if (o.cancelled) continue;
    if (excluded?.instants.has(o.ridMs)) continue;
    if (!overlapsWindow(o.startMs, o.endMs, window)) continue;
    out.push({ recurrenceIdMs: recurring || o.ridMs !== start.ms ? o.ridMs : undefined, startMs: o.startMs, endMs: o.endMs, allDay: o.start.isDate, comp: o.comp });
  }

  const ranges = overrides.length ? overrides.filter((o) => o.thisAndFuture).sort((a, b) => a.ridMs - b.ridMs) : NO_OVERRIDES;
  // A THISANDFUTURE override may move later instances earlier: look that far past the window.
  let lookahead = 0;
  for (const r of ranges) lookahead = Math.max(lookahead, r.ridMs - r.startMs);
  const stopAt = window.endMs + lookahead;
  let reach = lengthBoundMs(length);
  for (const r of ranges) reach = Math.max(reach, r.endMs - r.ridMs);
  const fromMs = window.startMs - reach - DAY_MS;

  let rangeIdx = -1;
  const take = (ms: number, day: number): boolean => {
    if (ms >= stopAt) return false;
    if (excluded && (excluded.instants.has(ms) || (excluded.dates.size > 0 && excluded.dates.has(day)))) return true;
    if (exact.has(ms)) return true;
    while (rangeIdx + 1 < ranges.length && ranges[rangeIdx + 1]!.ridMs <= ms) rangeIdx++;
    const range = rangeIdx >= 0 ? ranges[rangeIdx] : undefined;
    let slot: FastSlot;
    if (range) {
      if (range.cancelled) return true;
      const startMs = ms + (range.startMs - range.ridMs);
      slot = { recurrenceIdMs: ms, startMs, endMs: startMs + (range.endMs - range.startMs), allDay: range.start.isDate, comp: range.comp };
    } else {
      slot = { recurrenceIdMs: recurring ? ms : undefined, startMs: ms, endMs: endOf(ms, day, start, length), allDay: start.isDate, comp: master };
    }
    if (overlapsWindow(slot.startMs, slot.endMs, window)) out.push(slot);
    return true;
  };

  if (!recurring) take(start.ms, start.day);
  else {
    const rules = master.props.filter((p) => p[0] === "rrule");
    if (rules.length !== 1) bail();
    const plan = planOf(rules[0]!);
    // DTSTART and the rule's instances merged in order, one instance per
    // instant (expand.ts instances()); the rule's next instance is fetched
    // before the current one is used, as there.
    const it = ruleInstants(plan, start, fromMs, budget);
    let next = it.next();
    let dtstartPending = true;
    let lastMs = -Infinity;
    for (;;) {
      let ms: number;
      let day: number;
      if (dtstartPending && (next.done || start.ms <= next.value[0])) {
        dtstartPending = false;
        ms = start.ms;
        day = start.day;
      } else if (!next.done) {
        [ms, day] = next.value;
        next = it.next();
      } else {
        break;
      }
      if (ms <= lastMs) continue;
      lastMs = ms;
      if (!take(ms, day)) break;
    }
  }
  out.sort((a, b) => a.startMs - b.startMs || (a.recurrenceIdMs ?? 0) - (b.recurrenceIdMs ?? 0));
  return { recurring, slots: out };
}

const NO_OVERRIDES: Override[] = [];

/** Instants (and days) of a simple rule: rule.ts ruleStarts and expand.ts countFromDtstart, in numbers. */
function* ruleInstants(plan: SimplePlan, start: FastTime, fromMs: number, budget: IterationBudget): Generator<[number, number]> {
  const count = plan.count;
  let produced = 0;
  let first = true;
  for (const day of simpleRuleDays(plan.rule, start.day, plan.bounded, count ? undefined : fromMs, budget)) {
    const ms = instantOf(day, start.hour, start.minute, start.second, start.zone);
    if (ms > plan.untilMs) return;
    if (first) {
      first = false;
      // DTSTART always counts as the first instance (RFC 5545).
      if (count && ms !== start.ms) produced++;
    }
    if (count && produced >= count) return;
    produced++;
    yield [ms, day];
  }
}

/**
 * Parsed rules, by their jCal text: calendars repeat a handful of rules.
 * Null: not a simple rule (the full path walks it).
 */
const plans = new Map<string, SimplePlan | null>();
const PLANS_MAX = 1024;

function planOf(p: JProp): SimplePlan {
  if (p.length !== 4 || p[2] !== "recur" || typeof p[3] !== "object" || p[3] === null) bail();
  const key = JSON.stringify(p[3]);
  let plan = plans.get(key);
  if (plan === undefined) {
    // A copy: the cache keeps nothing of this object's jCal.
    const rule = ICAL.Recur.fromData(JSON.parse(key));
    plan = rule.freq && Number.isInteger(rule.interval) && rule.interval >= 1 ? (simplePlan(rule) ?? null) : null;
    if (plans.size >= PLANS_MAX) plans.clear();
    plans.set(key, plan);
  }
  return plan ?? bail();
}

/** EXDATE as expand.ts exclusions() reads it: instants, and days for DATE values on a timed series. */
interface Exclusions {
  instants: Set<number>;
  dates: Set<number>;
}

function exclusions(props: JProp[], start: FastTime, zones: Map<string, ICAL.Timezone>, lab: IntlZone, budget: IterationBudget): Exclusions | undefined {
  let found: Exclusions | undefined;
  for (const p of props) {
    if (p[0] !== "exdate") continue;
    found ??= { instants: new Set(), dates: new Set() };
    for (let i = 3; i < p.length; i++) {
      budget.spend();
      const v = timeOf(p, zones, lab, p[i]);
      if (v.isDate && !start.isDate) found.dates.add(v.day);
      else found.instants.add(v.ms);
    }
  }
  return found;
}
