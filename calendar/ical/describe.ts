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
  image?: string;
  mode?: string;
  created?: string;
  dtstamp?: string;
  leaseTtl?: number;
  usage?: string;
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
  const d: Described = {
    holder,
    exclusive: exclusiveOf(textOf(c, "transp"), labhog(X.exclusive)),
    purpose: purposeOf(textOf(c, "summary") ?? "", xHolder ?? holder.id ?? undefined),
    source: xHolder !== undefined ? "api" : "calendar",
  };
  const image = labhog(X.image);
  if (image) d.image = image;
  const mode = labhog(X.mode);
  if (mode) d.mode = mode;
  if (created) d.created = created;
  if (dtstamp) d.dtstamp = dtstamp;
  const ttl = Number(labhog(X.leaseTtl));
  if (Number.isInteger(ttl) && ttl > 0) d.leaseTtl = ttl;
  const usage = labhog(X.usage);
  if (usage !== undefined && usage.length <= MAX_USAGE_CHARS) d.usage = usage;
  return d;
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
  const r: Reservation = {
    id: rid !== undefined && ridInId ? `${uid}/${rid}` : uid,
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
