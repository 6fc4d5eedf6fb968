import type { Reservation } from "../../calendar/model.ts";
import type { WireError } from "../api/problem.ts";

/** What crosses Durable Object RPC: plain data only (errors lose their class over RPC). */
export type Result<T> = ({ ok: true; value: T } | { ok: false; error: WireError }) & { timing?: LedgerTiming };

/**
 * Where a write's time went inside the ledger, for the API's Server-Timing
 * header (worker/api/server-timing.ts): the whole operation, queue wait
 * included, and the calendar calls made while it held the ledger's queue.
 * Whole milliseconds: workerd's clock only moves across I/O.
 */
export interface LedgerTiming {
  ms: number;
  calendarMs: number;
}

/** A booking as the ledger takes it: the reservation's own fields, the holder by user id. `leaseTtl`: a CI lease ends by itself this many seconds after the last keep-alive. */
export type BookRequest = Pick<Reservation, "start" | "end" | "exclusive" | "purpose" | "image" | "mode" | "leaseTtl"> & {
  holder: string;
  source?: "api";
};

export interface ReservationChange {
  start?: string;
  end?: string;
  purpose?: string;
  /** For an occurrence of a series: this one only (default), or this and the following ones (a new series from here). */
  scope?: "this" | "following";
}

/** A recurring booking's rule as the API takes it (RFC 5545 RRULE parts); exactly one of `until` (a date or date-time) or `count`. */
export interface Repeat {
  freq: "daily" | "weekly" | "monthly";
  byDay?: Array<"MO" | "TU" | "WE" | "TH" | "FR" | "SA" | "SU">;
  interval?: number;
  until?: string;
  count?: number;
}

/** A recurring booking: `start`/`end` are the first occurrence's. */
export type SeriesRequest = BookRequest & { repeat: Repeat; skipConflicts: boolean };

export interface SeriesBooked {
  reservations: Reservation[];
  /** Original starts (ISO UTC) of the occurrences left out with an EXDATE (skipConflicts). */
  skipped: string[];
}

export interface ConflictInfo {
  id: string;
  holder: string | null;
  start: string;
  end: string;
  exclusive: boolean;
  state: Reservation["state"];
}

/** How fresh an answer is (freshness.ts): the last good sync, and whether it is too old to trust unmarked. */
export interface FreshnessInfo {
  lastSync: string | null;
  stale: boolean;
  unreachableSince: string | null;
}

export interface ReservationList extends FreshnessInfo {
  reservations: Reservation[];
}

export interface ResourceSnapshot extends FreshnessInfo {
  current: Reservation[];
  next: Reservation | null;
  conflicts: number;
  seq: number;
  publishPending: boolean;
  /** Standing notices (worker/notices); absent from older ledgers. */
  notices?: import("../notices/model.ts").Notice[];
}

export interface LeaseInfo {
  id: string;
  ttl: number;
  expiresAt: string;
}
