import ICAL from "ical.js";
import { InvalidEventError, ValidationError } from "../errors.ts";
import type { Reservation, TimeWindow, User } from "../model.ts";
import { IterationBudget, IterationCapError } from "../recurrence/budget.ts";
import { expandSeries, type Occurrence } from "../recurrence/expand.ts";
import { firstTimeValue, utcDateTimeMs } from "./fast-time.ts";
import { resolveHolder } from "./holder.ts";
import { message, parseCalendar } from "./parse.ts";
import { MAX_USAGE_CHARS, X, stripConflictPrefix, text } from "./properties.ts";
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
  const lab = labZone(ctx);
  const w = { startMs: window.start.getTime(), endMs: window.end.getTime() };
  if (!(w.startMs <= w.endMs)) throw new ValidationError("window ends before it starts");
  try {
    const root = parseCalendar(ics, { objectId, maxObjectChars: ctx.maxObjectChars });
    const budget = new IterationBudget(ctx.maxIterations);
    const out: Reservation[] = [];
    const nowMs = (ctx.now ?? new Date()).getTime();
    const described = new Map<ICAL.Component, Described>();
    for (const [uid, group] of groupByUid(root, objectId, budget)) {
      // A notice (X-LABHOG-KIND:notice) is shown by calendar apps but books nothing: no reservation, no conflict.
      if (text(group.master ?? group.overrides[0], X.kind)?.trim().toLowerCase() === "notice") continue;
      const { recurring, occurrences } = expandSeries(group.master, group.overrides, { window: w, lab, budget, objectId });
      for (const occ of occurrences) out.push(toReservation(uid, occ, group.master, recurring, ctx, nowMs, described));
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

/** What a reservation takes from its component: the same for every occurrence the component describes. */
interface Described {
  holder: Reservation["holder"];
  exclusive: boolean;
  purpose: string;
  source: Reservation["source"];
  image?: string;
  mode?: string;
  created?: string;
  dtstamp?: string;
  leaseTtl?: number;
  usage?: string;
}

/** Calendar apps do not always copy X- properties into an override; the series' values apply then. */
function labhog(c: ICAL.Component, master: ICAL.Component | undefined, name: string): string | undefined {
  return text(c, name) ?? (c === master ? undefined : text(master, name));
}

function describe(c: ICAL.Component, master: ICAL.Component | undefined, ctx: MappingContext): Described {
  const holder = resolveHolder(c, master, ctx.users, ctx.owner);
  const xHolder = labhog(c, master, X.holder);
  const d: Described = {
    holder,
    exclusive: exclusiveOf(c, labhog(c, master, X.exclusive)),
    purpose: purposeOf(text(c, "summary") ?? "", xHolder ?? holder.id ?? undefined),
    source: xHolder !== undefined ? "api" : "calendar",
  };
  const image = labhog(c, master, X.image);
  if (image) d.image = image;
  const mode = labhog(c, master, X.mode);
  if (mode) d.mode = mode;
  const created = utcOf(c, "created") ?? utcOf(master, "created");
  if (created) d.created = created;
  const dtstamp = utcOf(c, "dtstamp") ?? utcOf(master, "dtstamp");
  if (dtstamp) d.dtstamp = dtstamp;
  const ttl = Number(labhog(c, master, X.leaseTtl));
  if (Number.isInteger(ttl) && ttl > 0) d.leaseTtl = ttl;
  const usage = labhog(c, master, X.usage);
  if (usage !== undefined && usage.length <= MAX_USAGE_CHARS) d.usage = usage;
  return d;
}

/**
 * One reservation per occurrence. The component's part is worked out once
 * per component (`described` caches it for the object being mapped): a
 * weekly series yields dozens of occurrences of one component.
 */
function toReservation(uid: string, occ: Occurrence, master: ICAL.Component | undefined, recurring: boolean, ctx: MappingContext, nowMs: number, described: Map<ICAL.Component, Described>): Reservation {
  const c = occ.component;
  let d = described.get(c);
  if (!d) described.set(c, (d = describe(c, master, ctx)));
  const start = isoUtc(occ.startMs);
  const end = isoUtc(occ.endMs);
  // An instance not moved starts at its RECURRENCE-ID: one string for both.
  const rid = occ.recurrenceIdMs === undefined ? undefined : occ.recurrenceIdMs === occ.startMs ? start : isoUtc(occ.recurrenceIdMs);
  const r: Reservation = {
    id: rid !== undefined && (recurring || c !== master) ? `${uid}/${rid}` : uid,
    uid,
    resource: ctx.resource,
    // Each reservation its own holder object, as callers may annotate it.
    holder: { ...d.holder },
    start,
    end,
    exclusive: d.exclusive,
    purpose: d.purpose,
    source: d.source,
    // X-LABHOG-STATE:conflict is labhog's own output; conflicts are recomputed
    // from the events every time. stateAt's rule, on the instants at hand.
    state: nowMs < occ.startMs ? "upcoming" : nowMs < occ.endMs ? "active" : "ended",
    allDay: occ.allDay,
  };
  if (rid !== undefined) r.recurrenceId = rid;
  if (d.image) r.image = d.image;
  if (d.mode) r.mode = d.mode;
  if (d.created) r.created = d.created;
  if (d.dtstamp) r.dtstamp = d.dtstamp;
  if (d.leaseTtl !== undefined) r.leaseTtl = d.leaseTtl;
  if (d.usage !== undefined) {
    try {
      r.usage = JSON.parse(d.usage);
    } catch {
      // A mangled usage snapshot is cosmetic; the reservation stands without it.
    }
  }
  return r;
}

/**
 * TRANSP decides when present: it is what calendar apps let people change
 * ("show as free"), while they keep X- properties untouched.
 */
function exclusiveOf(c: ICAL.Component, xExclusive: string | undefined): boolean {
  const transp = text(c, "transp");
  if (transp !== undefined) return transp.trim().toUpperCase() !== "TRANSPARENT";
  if (xExclusive !== undefined) return xExclusive.trim().toUpperCase() !== "FALSE";
  return true;
}

function purposeOf(summary: string, holderId: string | undefined): string {
  const s = stripConflictPrefix(summary.trim());
  if (holderId && s.startsWith(`${holderId}: `)) return s.slice(holderId.length + 2);
  // labhog writes a bare "alice" (older: "alice:") when there is no purpose.
  if (holderId && (s === holderId || s === `${holderId}:`)) return "";
  return s;
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
