import type { Reservation } from "../../calendar/model.ts";
import type { WebhookEventType } from "../../calendar/config/webhooks.ts";

/**
 * The body of every webhook: `{type, timestamp, site, data}` — the envelope
 * Standard Webhooks recommends. `data` always names the resource; it carries
 * the reservation for reservation.* events and the agent's verdict for
 * enforcement.failed. Fields are only ever added, never renamed (version 1).
 */
export interface WebhookReservation {
  id: string;
  resource: string;
  /** The labhog user, or null with what the event said in `raw`. */
  holder: { id: string | null; raw: string };
  start: string;
  end: string;
  exclusive: boolean;
  purpose: string;
  state: string;
  source: string;
}

export interface WebhookBody {
  type: WebhookEventType;
  /** When it happened (ISO 8601, UTC). */
  timestamp: string;
  site: string;
  data: {
    resource: string;
    reservation?: WebhookReservation;
    /** reservation.conflict: the reservations that keep the slot. */
    conflictsWith?: string[];
    /** enforcement.failed: what the agent says is not in place. */
    enforcement?: { agent: string; problems: string[]; since: string | null };
  };
}

export function webhookReservation(r: Reservation): WebhookReservation {
  return {
    id: r.id,
    resource: r.resource,
    holder: { id: r.holder.id, raw: r.holder.raw },
    start: r.start,
    end: r.end,
    exclusive: r.exclusive,
    purpose: r.purpose ?? "",
    state: r.state,
    source: r.source,
  };
}
