import type { Reservation } from "../../calendar/model.ts";
import type { WireError } from "../api/problem.ts";

/** What crosses Durable Object RPC: plain data only (errors lose their class over RPC). */
export type Result<T> = { ok: true; value: T } | { ok: false; error: WireError };

/** A booking as the ledger takes it: the reservation's own fields, the holder by user id. `leaseTtl`: a CI lease ends by itself this many seconds after the last keep-alive. */
export type BookRequest = Pick<Reservation, "start" | "end" | "exclusive" | "purpose" | "image" | "mode" | "leaseTtl"> & {
  holder: string;
  source?: "api";
};

export interface ReservationChange {
  start?: string;
  end?: string;
  purpose?: string;
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
}

export interface LeaseInfo {
  id: string;
  ttl: number;
  expiresAt: string;
}
