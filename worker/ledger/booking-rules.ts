import { ConflictError, ValidationError } from "../../calendar/errors.ts";
import { overlaps, type Reservation } from "../../calendar/model.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";
import { nextFreeSlot } from "../../calendar/slots.ts";
import type { BookRequest, ConflictInfo } from "./protocol.ts";
import type { Hold } from "./state.ts";

/**
 * The booking rules, pure: what may be booked given the reservations (with
 * their verdicts), the pending holds and the time. The ledger calls these
 * inside its serial queue, so a check and the write after it can't interleave.
 */

type Span = { start: string; end: string; exclusive: boolean };

/** A booking's own times and length; `maxMs` is the lab's maxReservation. */
export function validateSpan(req: { start: string; end: string }, maxMs: number, maxText: string, now: number): void {
  const s = Date.parse(req.start);
  const e = Date.parse(req.end);
  if (!Number.isFinite(s) || !Number.isFinite(e)) throw new ValidationError("start and end must be date-times", { path: "start" });
  if (e <= s) throw new ValidationError("end must be after start", { path: "end" });
  if (e - s > maxMs) throw new ValidationError(`a reservation may last at most ${maxText}`, { path: "end" });
  if (e <= now) throw new ValidationError("the reservation would be over already", { path: "end" });
}

/** Standing reservations and live holds `req` can't share the resource with. Losers, ended ones and unbooked use block nothing. */
export function conflictsWith(req: Span, rs: readonly Reservation[], holds: Iterable<Hold>, now: number, except: { uid?: string; id?: string; hold?: string } = {}): ConflictInfo[] {
  const out: ConflictInfo[] = [];
  for (const r of rs) {
    if (r.uid === except.uid || r.id === except.id || r.state === "conflict" || r.state === "ended" || isUnbookedUse(r)) continue;
    if (!(req.exclusive || r.exclusive)) continue;
    if (overlaps(req, r)) out.push({ id: r.id, holder: r.holder.id, start: r.start, end: r.end, exclusive: r.exclusive, state: r.state });
  }
  for (const h of holds) {
    if (h.id === except.hold || h.expires < now) continue;
    if ((req.exclusive || h.req.exclusive) && overlaps(req, h.req)) out.push({ id: `hold:${h.id}`, holder: h.req.holder, start: h.req.start, end: h.req.end, exclusive: h.req.exclusive, state: "upcoming" });
  }
  return out;
}

/** The 409 for a refused booking: who is in the way, and the next free slot of the same length. */
export function conflictError(resource: string, req: BookRequest, conflicts: ConflictInfo[], busy: readonly Reservation[], holds: Iterable<Hold>, now: number, onSlotError: (e: unknown) => void): ConflictError {
  const duration = Date.parse(req.end) - Date.parse(req.start);
  const all: Reservation[] = busy.filter((r) => r.state !== "conflict" && !isUnbookedUse(r));
  for (const h of holds) all.push({ ...h.req, id: `hold:${h.id}`, uid: `hold:${h.id}`, resource, holder: { id: h.req.holder, raw: h.req.holder }, purpose: "", source: "api", state: "upcoming" });
  let nextFree: { start: string; end: string } | null = null;
  try {
    nextFree = nextFreeSlot(all, duration, new Date(Math.max(Date.parse(req.start), now)), req.exclusive);
  } catch (e) {
    onSlotError(e);
  }
  const names = conflicts.map((c) => `${c.id.startsWith("hold:") ? "a booking in progress" : `${resource}:${c.id}`} (${c.holder ?? "unknown holder"}, ${c.start} – ${c.end})`).join(", ");
  return new ConflictError(`${resource} is booked at that time: ${names}`, { resource, conflicts, nextFree });
}

/** Throws when a reservation (or one occurrence of a series) can't be extended, shortened or moved through the API. */
export function checkChange(r: Reservation, change: { start?: string }, id: string): void {
  if (r.state === "ended") throw new ConflictError("the reservation is over already", { id });
  if (r.state === "conflict") throw new ConflictError("the reservation lost a conflict; resolve it in the calendar", { id });
  if (r.state === "active" && change.start && Date.parse(change.start) !== Date.parse(r.start)) throw new ConflictError("a running reservation cannot be moved; extend, shorten or release it", { id });
}

/**
 * How a release ends a reservation: a running one released in its first
 * second is deleted (iCalendar has second precision; an occurrence of a series gets an EXDATE), a running one is cut
 * at now, an upcoming one is deleted. Throws when it can't be done.
 */
export function releasePlan(r: Reservation, how: "release" | "cancel", now: number, id: string): { kind: "delete" } | { kind: "cut"; end: string } {
  if (r.state === "ended") throw new ConflictError("the reservation is over already", { id });
  if (r.state === "active" && how === "release" && now < Date.parse(r.start) + 1000) return { kind: "delete" };
  if (r.state === "active") {
    if (how === "cancel") throw new ConflictError("the reservation is running: release it instead of cancelling", { id });
    return { kind: "cut", end: new Date(Math.max(now, Date.parse(r.start) + 1000)).toISOString() };
  }
  return { kind: "delete" };
}
