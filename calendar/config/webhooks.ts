import { z } from "zod";
import { secretName } from "./secret-name.ts";

/**
 * Outgoing webhooks of the lab file: what happened to reservations and their
 * enforcement, POSTed as JSON and signed the Standard Webhooks way
 * (https://www.standardwebhooks.com: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64 HMAC-SHA256>`), so receivers can check them
 * with any Standard Webhooks library.
 */
export const WEBHOOK_EVENTS = [
  "reservation.created",
  "reservation.changed",
  "reservation.started",
  "reservation.ended",
  "reservation.conflict",
  "reservation.no_show_released",
  "enforcement.failed",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];


export const webhookConfigSchema = z.strictObject({
  /** https:// (http:// only to loopback, for a receiver on the same machine). */
  url: z
    .url()
    .refine((u) => u.startsWith("https://") || /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\//.test(u), "https://, or http:// to 127.0.0.1/localhost only"),
  /** Worker secret holding the signing secret, `whsec_<base64>` as Standard Webhooks serializes it. */
  secretSecret: secretName,
  /** Which events; all of them when absent. */
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).optional(),
  /** Only these resources / pools (either matches); every resource when both are absent. */
  resources: z.array(z.string()).optional(),
  pools: z.array(z.string()).optional(),
});

export type WebhookConfig = z.output<typeof webhookConfigSchema>;

/** Does this webhook want this event about this resource? */
export function wants(w: WebhookConfig, type: WebhookEventType, resource: string, pool: string | undefined): boolean {
  if (w.events && !w.events.includes(type)) return false;
  if (!w.resources && !w.pools) return true;
  return (w.resources?.includes(resource) ?? false) || (pool !== undefined && (w.pools?.includes(pool) ?? false));
}
