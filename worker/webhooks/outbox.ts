import { wants, type WebhookConfig, type WebhookEventType } from "../../calendar/config/webhooks.ts";
import type { WebhookBody } from "./events.ts";

/**
 * The webhook outbox as pure rules over plain data: what to send, when to
 * try again, when to give up. The ledger keeps the entries in its storage
 * (so a restart loses nothing) and wakes on its alarm for the next due one.
 *
 * Retries follow the schedule Standard Webhooks suggests (immediately, 5 s,
 * 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), then the delivery is dropped and logged.
 * 2xx is delivered. 410 Gone means the receiver is gone: no retry. Every
 * other answer, or none in time, is tried again.
 */
export const RETRY_SCHEDULE_MS = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000] as const;

export interface OutboxEntry {
  /** webhook-id: one per event and webhook, the same on every retry. */
  id: string;
  webhook: string;
  type: WebhookEventType;
  body: string;
  /** Attempts made so far. */
  attempts: number;
  nextAt: number;
  lastError?: string;
}

export type Outbox = OutboxEntry[];

/** Entries for every webhook that wants this event. */
export function enqueue(webhooks: ReadonlyMap<string, WebhookConfig>, body: WebhookBody, pool: string | undefined, now: number, newId: () => string): OutboxEntry[] {
  const text = JSON.stringify(body);
  const out: OutboxEntry[] = [];
  for (const [name, w] of webhooks) {
    if (wants(w, body.type, body.data.resource, pool)) out.push({ id: newId(), webhook: name, type: body.type, body: text, attempts: 0, nextAt: now });
  }
  return out;
}

export function due(outbox: readonly OutboxEntry[], now: number): OutboxEntry[] {
  return outbox.filter((e) => e.nextAt <= now);
}

export interface AttemptResult {
  status?: number;
  error?: string;
}

/** What becomes of an entry after one attempt: `done` (delivered or given up) or the entry with its next try. */
export function afterAttempt(e: OutboxEntry, r: AttemptResult, now: number): { done: true; delivered: boolean; reason: string } | { done: false; entry: OutboxEntry } {
  const attempts = e.attempts + 1;
  if (r.status !== undefined && r.status >= 200 && r.status < 300) return { done: true, delivered: true, reason: `HTTP ${r.status}` };
  const reason = r.error ?? `HTTP ${r.status}`;
  if (r.status === 410) return { done: true, delivered: false, reason: "HTTP 410: the receiver is gone" };
  const wait = RETRY_SCHEDULE_MS[attempts];
  if (wait === undefined) return { done: true, delivered: false, reason: `gave up after ${attempts} attempts: ${reason}` };
  return { done: false, entry: { ...e, attempts, nextAt: now + wait, lastError: reason } };
}

/** When the ledger must wake for the outbox. */
export function nextOutboxAlarm(outbox: readonly OutboxEntry[]): number | undefined {
  let min: number | undefined;
  for (const e of outbox) if (min === undefined || e.nextAt < min) min = e.nextAt;
  return min;
}
