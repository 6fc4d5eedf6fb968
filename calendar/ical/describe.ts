import type { Reservation } from "../model.ts";
import { holderOf } from "./holder.ts";
import type { PropReader } from "./prop-reader.ts";
import { textOf } from "./prop-reader.ts";
import { MAX_USAGE_CHARS, X, stripConflictPrefix } from "./properties.ts";
import type { MappingContext } from "./read.ts";
import { isoUtc } from "./times.ts";

/**
 * What a reservation takes from the component that describes it (holder,
 * purpose, labhog's X- properties): the same for every occurrence the
 * component describes, so worked out once per component. Read through a
 * PropReader, so the ical.js path and the jCal fast path map alike.
 */
export interface Described {
  holder: Reservation["holder"];
  exclusive: boolean;
  purpose: string;
  source: Reservation["source"];
  image: string | undefined;
  mode: string | undefined;
  created: string | undefined;
  dtstamp: string | undefined;
  leaseTtl: number | undefined;
  usage: string | undefined;
}

/**
 * `master` is undefined when `c` is the series master itself. CREATED and
 * DTSTAMP (instants, ISO) are read by the caller: each path decodes times its own way.
 */
export function describe(c: PropReader, master: PropReader | undefined, ctx: MappingContext, created: string | undefined, dtstamp: string | undefined): Described {
  // Calendar apps do not always copy X- properties into an override; the series' values apply then.
  const labhog = (name: string) => textOf(c, name) ?? textOf(master, name);
  const holder = holderOf(c, master, ctx.users, ctx.owner);
  const xHolder = labhog(X.holder);
  const exclusive = exclusiveOf(textOf(c, "transp"), labhog(X.exclusive));
  const purpose = purposeOf(textOf(c, "summary") ?? "", xHolder ?? holder.id ?? undefined);
  const image = labhog(X.image);
  const mode = labhog(X.mode);
  const ttl = Number(labhog(X.leaseTtl));
  const usage = labhog(X.usage);
  // One literal with every field (absent ones undefined): a shape that never grows.
  return {
    holder,
    exclusive,
    purpose,
    source: xHolder !== undefined ? "api" : "calendar",
    image: image || undefined,
    mode: mode || undefined,
    created: created || undefined,
    dtstamp: dtstamp || undefined,
    leaseTtl: Number.isInteger(ttl) && ttl > 0 ? ttl : undefined,
    usage: usage !== undefined && usage.length <= MAX_USAGE_CHARS ? usage : undefined,
  };
}

/** One occurrence's instants. */
export interface Slot {
  /** Original start (RECURRENCE-ID) in ms, for instances of a recurring event. */
  recurrenceIdMs?: number;
  startMs: number;
  endMs: number;
  allDay: boolean;
}

/**
 * The reservation for one occurrence. `ridInId`: the id names the instance
 * (a recurring series, or an override of a single event).
 */
export function reservationOf(uid: string, occ: Slot, d: Described, ridInId: boolean, ctx: MappingContext, nowMs: number): Reservation {
  const start = isoUtc(occ.startMs);
  const end = isoUtc(occ.endMs);
  // An instance not moved starts at its RECURRENCE-ID: one string for both.
  const rid = occ.recurrenceIdMs === undefined ? undefined : occ.recurrenceIdMs === occ.startMs ? start : isoUtc(occ.recurrenceIdMs);
  const id = rid !== undefined && ridInId ? idPrefix(uid) + rid : uid;
  // Each reservation its own holder object, as callers may annotate it.
  const holder = { ...d.holder };
  // X-LABHOG-STATE:conflict is labhog's own output; conflicts are recomputed
  // from the events every time. stateAt's rule, on the instants at hand.
  const state = nowMs < occ.startMs ? "upcoming" : nowMs < occ.endMs ? "active" : "ended";
  const { created, dtstamp } = d;
  // The common shapes as whole literals: a property added after the literal
  // costs each reservation a separate property store (heap the result keeps).
  // Same keys in the same order as the general case below.
  if (!d.image && !d.mode && d.leaseTtl === undefined && d.usage === undefined && dtstamp) {
    if (rid !== undefined) {
      return created
        ? { id, uid, resource: ctx.resource, holder, start, end, exclusive: d.exclusive, purpose: d.purpose, source: d.source, state, allDay: occ.allDay, recurrenceId: rid, created, dtstamp }
        : { id, uid, resource: ctx.resource, holder, start, end, exclusive: d.exclusive, purpose: d.purpose, source: d.source, state, allDay: occ.allDay, recurrenceId: rid, dtstamp };
    }
    return created
      ? { id, uid, resource: ctx.resource, holder, start, end, exclusive: d.exclusive, purpose: d.purpose, source: d.source, state, allDay: occ.allDay, created, dtstamp }
      : { id, uid, resource: ctx.resource, holder, start, end, exclusive: d.exclusive, purpose: d.purpose, source: d.source, state, allDay: occ.allDay, dtstamp };
  }
  const r: Reservation = { id, uid, resource: ctx.resource, holder, start, end, exclusive: d.exclusive, purpose: d.purpose, source: d.source, state, allDay: occ.allDay };
  if (rid !== undefined) r.recurrenceId = rid;
  if (d.image) r.image = d.image;
  if (d.mode) r.mode = d.mode;
  if (created) r.created = created;
  if (dtstamp) r.dtstamp = dtstamp;
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
 * "uid/", made once for the occurrences of one series in a row: each
 * instance id is then one small string pair (the prefix and its start)
 * instead of two, which is most of the heap a long series' ids keep.
 */
let lastUid: string | undefined;
let lastPrefix = "";

function idPrefix(uid: string): string {
  if (uid !== lastUid) {
    lastUid = uid;
    lastPrefix = `${uid}/`;
  }
  return lastPrefix;
}

/**
 * TRANSP decides when present: it is what calendar apps let people change
 * ("show as free"), while they keep X- properties untouched.
 */
function exclusiveOf(transp: string | undefined, xExclusive: string | undefined): boolean {
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
