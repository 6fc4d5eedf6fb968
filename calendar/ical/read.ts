import ICAL from "ical.js";
import { InvalidEventError, ValidationError } from "../errors.ts";
import type { Reservation, TimeWindow, User } from "../model.ts";
import { IterationBudget, IterationCapError } from "../recurrence/budget.ts";
import { expandSeries } from "../recurrence/expand.ts";
import { describe, reservationOf, type Described } from "./describe.ts";
import { fastReservations } from "./fast-read.ts";
import { firstTimeValue, utcDateTimeMs } from "./fast-time.ts";
import { calendarFromJcal, message, parseJcal } from "./parse.ts";
import { componentReader } from "./prop-reader.ts";
import { X, text } from "./properties.ts";
import { isoUtc } from "./times.ts";
import { intlZone, type IntlZone } from "./zones.ts";

export interface MappingContext {
  /** Resource id the calendar belongs to. */
  resource: string;
  /** The lab's IANA zone: floating times and all-day dates are read in it. */
  timezone: string;
  users: User[];
  /** User id the calendar belongs to: the holder of events that name nobody we know. */
  owner?: string;
  /** Hard cap on recurrence iterations per calendar object (default 50,000). */
  maxIterations?: number;
  /** Objects longer than this many characters are rejected unparsed (default 1 MiB). */
  maxObjectChars?: number;
  /** "Now", for the upcoming/active/ended state (default: the current time). */
  now?: Date;
}

export function labZone(ctx: Pick<MappingContext, "timezone">): IntlZone {
  const z = intlZone(ctx.timezone);
  if (!z) throw new ValidationError(`unknown lab time zone "${ctx.timezone}"`);
  return z;
}

/**
 * The reservations one calendar object yields in `window` (one per occurrence
 * of a recurring event). Throws InvalidEventError when the object cannot be
 * understood; never anything else for bad calendar data.
 */
export function reservationsFromIcs(ics: string, ctx: MappingContext, window: TimeWindow, objectId?: string): Reservation[] {
  return mapObject(ics, ctx, window, objectId, true);
}

/** reservationsFromIcs on ical.js's objects alone: what the jCal fast path (fast-read.ts) is held to. */
export function fullReservationsFromIcs(ics: string, ctx: MappingContext, window: TimeWindow, objectId?: string): Reservation[] {
  return mapObject(ics, ctx, window, objectId, false);
}

function mapObject(ics: string, ctx: MappingContext, window: TimeWindow, objectId: string | undefined, tryFast: boolean): Reservation[] {
  const lab = labZone(ctx);
  const w = { startMs: window.start.getTime(), endMs: window.end.getTime() };
  if (!(w.startMs <= w.endMs)) throw new ValidationError("window ends before it starts");
  try {
    const jcal = parseJcal(ics, { objectId, maxObjectChars: ctx.maxObjectChars });
    const nowMs = (ctx.now ?? new Date()).getTime();
    const fast = tryFast ? fastReservations(jcal, ctx, lab, w, nowMs) : undefined;
    if (fast) return fast.sort(byStartThenId);
    const root = calendarFromJcal(jcal, objectId);
    const budget = new IterationBudget(ctx.maxIterations);
    const out: Reservation[] = [];
    const described = new Map<ICAL.Component, Described>();
    for (const [uid, group] of groupByUid(root, objectId, budget)) {
      // A notice (X-LABHOG-KIND:notice) is shown by calendar apps but books nothing: no reservation, no conflict.
      if (text(group.master ?? group.overrides[0], X.kind)?.trim().toLowerCase() === "notice") continue;
      const { recurring, occurrences } = expandSeries(group.master, group.overrides, { window: w, lab, budget, objectId });
      for (const occ of occurrences) {
        const c = occ.component;
        out.push(reservationOf(uid, occ, describedOf(c, group.master, ctx, described), recurring || c !== group.master, ctx, nowMs));
      }
    }
    out.sort(byStartThenId);
    return out;
  } catch (e) {
    throw asInvalidEvent(e, objectId);
  }
}

/** Maps a whole calendar: bad objects become errors, the rest still maps. */
export function expandCalendar(
  objects: { id: string; ics: string }[],
  ctx: MappingContext,
  window: TimeWindow,
): { reservations: Reservation[]; errors: InvalidEventError[] } {
  // A bad lab zone or window is the caller's error, not every object's.
  labZone(ctx);
  if (!(window.start.getTime() <= window.end.getTime())) throw new ValidationError("window ends before it starts");
  const reservations: Reservation[] = [];
  const errors: InvalidEventError[] = [];
  for (const o of objects) {
    try {
      reservations.push(...reservationsFromIcs(o.ics, ctx, window, o.id));
    } catch (e) {
      errors.push(asInvalidEvent(e, o.id));
    }
  }
  reservations.sort(byStartThenId);
  return { reservations, errors };
}

/**
 * Reservations by start, then id. Starts are all isoUtc's fixed format, where
 * plain string order is time order (and what localeCompare gave, at a
 * fraction of the cost); ids keep localeCompare's order.
 */
function byStartThenId(a: Reservation, b: Reservation): number {
  if (a.start !== b.start) return a.start < b.start ? -1 : 1;
  return a.id.localeCompare(b.id);
}

export function asInvalidEvent(e: unknown, objectId: string | undefined): InvalidEventError {
  if (e instanceof InvalidEventError) {
    if (e.objectId === objectId || objectId === undefined) return e;
    return new InvalidEventError(e.message, objectId, { cause: e });
  }
  if (e instanceof IterationCapError) return new InvalidEventError(e.message, objectId, { cause: e });
  // ical.js throws plain Errors (and a deeply nested object a RangeError) on input it cannot handle.
  return new InvalidEventError(`calendar object cannot be read: ${message(e)}`, objectId, { cause: e });
}

interface Group {
  master?: ICAL.Component;
  overrides: ICAL.Component[];
}

function groupByUid(root: ICAL.Component, objectId: string | undefined, budget: IterationBudget): Map<string, Group> {
  const groups = new Map<string, Group>();
  for (const ev of root.getAllSubcomponents("vevent")) {
    budget.spend();
    const uid = text(ev, "uid");
    if (!uid) throw new InvalidEventError("VEVENT without UID", objectId);
    let g = groups.get(uid);
    if (!g) groups.set(uid, (g = { overrides: [] }));
    if (ev.hasProperty("recurrence-id")) g.overrides.push(ev);
    else if (g.master) throw new InvalidEventError(`two VEVENTs for UID ${uid} without RECURRENCE-ID`, objectId);
    else g.master = ev;
  }
  return groups;
}

/**
 * The component's part of a reservation, worked out once per component
 * (`described` caches it for the object being mapped): a weekly series
 * yields dozens of occurrences of one component.
 */
function describedOf(c: ICAL.Component, master: ICAL.Component | undefined, ctx: MappingContext, described: Map<ICAL.Component, Described>): Described {
  let d = described.get(c);
  if (!d) {
    const m = master && master !== c ? master : undefined;
    const created = utcOf(c, "created") ?? utcOf(m, "created");
    const dtstamp = utcOf(c, "dtstamp") ?? utcOf(m, "dtstamp");
    described.set(c, (d = describe(componentReader(c), m && componentReader(m), ctx, created, dtstamp)));
  }
  return d;
}

function utcOf(c: ICAL.Component | undefined, name: string): string | undefined {
  if (!c) return undefined;
  try {
    const p = c.getFirstProperty(name);
    if (!p) return undefined;
    const fast = utcDateTimeMs(p);
    if (fast !== undefined) return isoUtc(fast);
    const v = firstTimeValue(p);
    if (v instanceof ICAL.Time) {
      const ms = v.toUnixTime() * 1000;
      return Number.isFinite(ms) ? isoUtc(ms) : undefined;
    }
  } catch {
    // CREATED/DTSTAMP only order conflicts; a broken one is as good as none.
  }
  return undefined;
}
