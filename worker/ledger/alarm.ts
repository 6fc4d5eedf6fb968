import type { Reservation } from "../../calendar/model.ts";
import { PUBLISH_RETRY_MS, type Hold, type Lease } from "./state.ts";

/**
 * When the ledger must wake next, pure. One alarm per Durable Object, so it
 * is the earliest of: the next sync, a reservation boundary in the schedule
 * window (agents get a fresh schedule as one starts or ends), a re-publish
 * well before the last schedule's validUntil, lease expiry, hold expiry, a
 * publish retry, the Google channel renewal, a held-back usage line, a
 * webhook retry.
 */
export interface AlarmInputs {
  /** Last sync attempt (ms). */
  lastAttemptAt: number;
  syncIntervalMs: number;
  /** Reservations of the schedule window (start and end count). */
  window: readonly Pick<Reservation, "start" | "end">[];
  publishedAt: number;
  scheduleWindowMs: number;
  publishPending: boolean;
  leases: Iterable<Lease>;
  holds: Iterable<Hold>;
  /** Google channel renewal or retry (ms), if any. */
  channelDue?: number | undefined;
  /** Held-back usage line (ms), if any. */
  mirrorDueAt?: number | undefined;
  /** Next webhook retry (ms), if any. */
  webhookDueAt?: number | undefined;
}

/** Reservation starts and ends after `now`, plus the re-publish point. */
export function boundaries(window: AlarmInputs["window"], publishedAt: number, scheduleWindowMs: number, now: number): number[] {
  const out: number[] = [];
  for (const r of window) for (const t of [Date.parse(r.start), Date.parse(r.end)]) if (t > now) out.push(t);
  out.push(publishedAt + scheduleWindowMs / 2);
  return out;
}

/** Whether a boundary passed since the last publish (or the last schedule is half-way to expiry). */
export function boundaryPassed(window: AlarmInputs["window"], publishedAt: number, scheduleWindowMs: number, now: number): boolean {
  if (!publishedAt) return true;
  if (now - publishedAt > scheduleWindowMs / 2) return true;
  return window.some((r) => [Date.parse(r.start), Date.parse(r.end)].some((t) => t > publishedAt && t <= now));
}

export function nextAlarm(s: AlarmInputs, now: number): number {
  const times = [s.lastAttemptAt + s.syncIntervalMs, ...boundaries(s.window, s.publishedAt, s.scheduleWindowMs, now)];
  for (const l of s.leases) times.push(l.lastKeepalive + l.ttl * 1000);
  for (const h of s.holds) times.push(h.expires);
  if (s.publishPending) times.push(now + PUBLISH_RETRY_MS);
  if (s.channelDue !== undefined) times.push(s.channelDue);
  if (s.mirrorDueAt !== undefined) times.push(s.mirrorDueAt);
  if (s.webhookDueAt !== undefined) times.push(s.webhookDueAt);
  return Math.max(now + 100, Math.min(...times));
}
