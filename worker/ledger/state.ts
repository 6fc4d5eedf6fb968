import type { CalendarObject } from "./calendar-port.ts";
import type { BookRequest } from "./protocol.ts";
import type { Seen } from "./precedence.ts";

/** What the ledger keeps in Durable Object storage under "meta". */
export interface Meta {
  resource?: string;
  syncToken: string | null;
  /** Last successful sync (ms); 0 = never synced, so nothing may be answered from the cache. */
  lastSyncAt: number;
  /** Last sync attempt, successful or not (ms): paces retries. */
  lastAttemptAt: number;
  /** First failed sync since the last good one (ms), or 0. */
  unreachableSince: number;
  /** Last published schedule seq. */
  seq: number;
  publishPending: boolean;
  publishedAt: number;
  /** Last precedence batch handed out (precedence.ts). */
  batch: number;
  /** Last full check of the cache against the calendar (CalendarBackend.verify, or a full sync), ms; absent = never. */
  lastVerifyAt?: number;
}

export const emptyMeta = (): Meta => ({ syncToken: null, lastSyncAt: 0, lastAttemptAt: 0, unreachableSince: 0, seq: 0, publishPending: false, publishedAt: 0, batch: 0 });

/** Meta as stored by older versions lacks fields: fill them. */
export function loadMeta(stored: Partial<Meta> | undefined): Meta {
  return { ...emptyMeta(), ...(stored ?? {}) };
}

export interface Lease {
  uid: string;
  ttl: number;
  lastKeepalive: number;
}

/** A slot held by a two-phase booking: others see it as taken, nothing is written yet. */
export interface Hold {
  id: string;
  req: BookRequest;
  expires: number;
}

/** Everything the ledger knows, in memory; each map mirrors a storage prefix. */
export interface LedgerState {
  meta: Meta;
  /** obj:<id> — the calendar objects (a cache; the calendar stays the truth). */
  objects: Map<string, CalendarObject>;
  /** lease:<uid> */
  leases: Map<string, Lease>;
  /** In memory only: a hold lives 30 s at most. */
  holds: Map<string, Hold>;
  /** seen:<reservation id> — first-seen order and last verdict. */
  seen: Map<string, Seen>;
}

export const HOLD_MS = 30_000;
export const PUBLISH_RETRY_MS = 5_000;
export const CONFLICT_HORIZON_MS = 60 * 86_400_000;
export const MAX_WAIT_MS = 600_000;
export const CACHE_BEFORE_DAYS = 35;
export const CACHE_AFTER_DAYS = 400;
export const DAY_MS = 86_400_000;

/** The window every reservation is parsed and judged over, by day (so caches last a day). */
export function cacheWindow(now: number): { day: number; start: number; end: number } {
  const day = Math.floor(now / DAY_MS);
  return { day, start: (day - CACHE_BEFORE_DAYS) * DAY_MS, end: (day + CACHE_AFTER_DAYS) * DAY_MS };
}
