import type { WebhookConfig } from "../../calendar/config/webhooks.ts";
import type { AttemptResult, OutboxEntry } from "./outbox.ts";
import { webhookHeaders } from "./sign.ts";

/** How long a receiver may take to answer (Standard Webhooks asks receivers to answer within seconds). */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** One POST of one entry. Never throws: every failure is an AttemptResult to retry by. */
export async function deliver(e: OutboxEntry, w: WebhookConfig, secret: string | undefined, now: number, fetchImpl: typeof fetch = fetch): Promise<AttemptResult> {
  if (!secret) return { error: `the Worker secret ${w.secretSecret} is not set` };
  let headers: Record<string, string>;
  try {
    headers = await webhookHeaders(secret, e.id, now, e.body);
  } catch (err) {
    return { error: `${w.secretSecret}: ${(err as Error).message}` };
  }
  try {
    const res = await fetchImpl(w.url, { method: "POST", headers, body: e.body, redirect: "manual", signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) });
    await res.body?.cancel().catch(() => undefined);
    return { status: res.status };
  } catch (err) {
    return { error: (err as Error).name === "TimeoutError" ? `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s` : (err as Error).message };
  }
}
