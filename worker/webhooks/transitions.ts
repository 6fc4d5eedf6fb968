import type { Reservation } from "../../calendar/model.ts";
import type { WebhookEventType } from "../../calendar/config/webhooks.ts";
import { webhookReservation, type WebhookReservation } from "./events.ts";

/**
 * Which reservation.* events happened, pure: the reservations as the ledger
 * sees them now, against what the webhooks were last told of each. One rule
 * for every way a reservation changes (the API, a calendar app, the clock),
 * so an event made in Thunderbird fires the same webhooks as one booked
 * through the API.
 *
 * - new → created (and conflict, when it arrives as a loser);
 * - start, end, holder, kind or purpose moved → changed;
 * - upcoming → active → started; → ended, or gone from the calendar → ended;
 * - lost a conflict → conflict.
 * Unbooked use (transparent events the mirror writes) fires nothing.
 */
export interface Told {
  state: string;
  fingerprint: string;
  last: WebhookReservation;
}

export interface Transition {
  type: Extract<WebhookEventType, `reservation.${string}`>;
  reservation: WebhookReservation;
  conflictsWith?: string[];
}

const fingerprint = (r: WebhookReservation) => JSON.stringify([r.start, r.end, r.holder.id, r.holder.raw, r.exclusive, r.purpose]);

export function transitions(told: ReadonlyMap<string, Told>, now: readonly Reservation[]): { events: Transition[]; next: Map<string, Told> } {
  const events: Transition[] = [];
  const next = new Map<string, Told>();
  for (const r of now) {
    const w = webhookReservation(r);
    const fp = fingerprint(w);
    const before = told.get(r.id);
    next.set(r.id, { state: r.state, fingerprint: fp, last: w });
    if (!before) {
      if (r.state === "ended") continue; // already over when we first saw it: nothing to tell
      events.push({ type: "reservation.created", reservation: w });
      if (r.state === "active") events.push({ type: "reservation.started", reservation: w });
      if (r.state === "conflict") events.push({ type: "reservation.conflict", reservation: w, conflictsWith: r.conflictWith ?? [] });
      continue;
    }
    if (before.state === "ended") continue;
    if (r.state === "ended") {
      // Released early or run out: ended says it all (its end is the new end).
      events.push({ type: "reservation.ended", reservation: w });
      continue;
    }
    if (before.fingerprint !== fp) events.push({ type: "reservation.changed", reservation: w });
    if (r.state === "conflict" && before.state !== "conflict") events.push({ type: "reservation.conflict", reservation: w, conflictsWith: r.conflictWith ?? [] });
    if (r.state === "active" && before.state !== "active") events.push({ type: "reservation.started", reservation: w });
  }
  for (const [id, before] of told) {
    if (next.has(id) || before.state === "ended") continue;
    // Gone from the calendar (cancelled, deleted in an app) or out of the window.
    if (Date.parse(before.last.end) > Date.now() - 86_400_000) events.push({ type: "reservation.ended", reservation: { ...before.last, state: "ended" } });
  }
  return { events, next };
}
