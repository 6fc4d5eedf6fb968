import { UnavailableError } from "../../calendar/errors.ts";

/**
 * Never a guessed answer, pure. A ledger that has never synced has nothing
 * to answer from; one whose last good sync is older than STALE_INTERVALS
 * sync intervals answers from its cache, marked stale.
 */
export const STALE_INTERVALS = 3;

export interface Freshness {
  /** ISO time of the last good sync, or null. */
  lastSync: string | null;
  /** The cache is older than a few sync intervals (the calendar can't be reached). */
  stale: boolean;
  /** ISO time of the first failed sync since the last good one, when it is failing. */
  unreachableSince: string | null;
}

export function freshnessOf(m: { lastSyncAt: number; unreachableSince: number }, syncIntervalMs: number, now: number): Freshness {
  return {
    lastSync: m.lastSyncAt ? new Date(m.lastSyncAt).toISOString() : null,
    stale: m.lastSyncAt > 0 && now - m.lastSyncAt > STALE_INTERVALS * syncIntervalMs,
    unreachableSince: m.unreachableSince ? new Date(m.unreachableSince).toISOString() : null,
  };
}

/**
 * What a read on a never-synced ledger does: sync first, or — when a sync
 * just failed — answer 503 at once rather than make every reader wait for the
 * calendar's deadline again.
 */
export function firstReadPlan(m: { lastSyncAt: number; lastAttemptAt: number }, syncIntervalMs: number, now: number): "ready" | "sync" | "unavailable" {
  if (m.lastSyncAt > 0) return "ready";
  if (m.lastAttemptAt > 0 && now - m.lastAttemptAt < Math.min(syncIntervalMs, 5_000)) return "unavailable";
  return "sync";
}

export function noCacheError(resource: string, syncIntervalMs: number, cause?: unknown): UnavailableError {
  return new UnavailableError(`the calendar of ${resource} can't be reached and labhog has never read it: no answer rather than a guessed one`, Math.max(1, Math.ceil(syncIntervalMs / 1000)), cause === undefined ? undefined : { cause });
}
