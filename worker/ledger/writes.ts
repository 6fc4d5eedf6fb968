import { durationSeconds } from "../../calendar/config/lab-config.ts";
import { ConflictError, LabhogError, NotFoundError, ValidationError } from "../../calendar/errors.ts";
import type { Reservation } from "../../calendar/model.ts";
import { checkChange, conflictError, conflictsWith, releasePlan, validateSpan } from "./booking-rules.ts";
import { cancelOccurrence, mappingContext, newEventIcs, patchIcs, type EventPatch } from "./calendar-port.ts";
import type { LedgerCore } from "./core.ts";
import { CalendarDeadlineError } from "./deadline.ts";
import { leaseExpiry, pruneHolds } from "./leases.ts";
import { granted } from "./precedence.ts";
import { changeFollowing } from "./series-writes.ts";
import type { BookRequest, LeaseInfo, ReservationChange } from "./protocol.ts";
import { CONFLICT_HORIZON_MS, type Hold, type Lease } from "./state.ts";
import { strip, type Row } from "./view.ts";

/**
 * API writes: booking (one- and two-phase), change, release, retract, event
 * patches, lease keep-alives. All run inside the ledger's serial queue; each
 * checks the booking rules against the cache, writes to the calendar first
 * (If-None-Match / If-Match) and only then updates the cache and records
 * the grant (precedence.ts), so a failed or timed-out call leaves nothing.
 */

export function validate(core: LedgerCore, req: { start: string; end: string }): void {
  const max = core.lab().policy.maxReservation;
  validateSpan(req, durationSeconds(max) * 1000, String(max), Date.now());
}

function refuse(core: LedgerCore, req: BookRequest, conflicts: ReturnType<typeof conflictsWith>): ConflictError {
  const now = Date.now();
  return conflictError(core.resource, req, conflicts, core.view.reservations(now, now + CONFLICT_HORIZON_MS, now), core.state.holds.values(), now, (e) => core.log().warn("next free slot failed", { error: e }));
}

function standing(core: LedgerCore, req: { start: string; end: string }): Row[] {
  return core.view.reservations(Date.parse(req.start), Date.parse(req.end));
}

export function takeHold(core: LedgerCore, req: BookRequest, holdMs: number): Hold {
  const now = Date.now();
  pruneHolds(core.state.holds, now);
  validate(core, req);
  const conflicts = conflictsWith(req, standing(core, req), core.state.holds.values(), now);
  if (conflicts.length) throw refuse(core, req, conflicts);
  const hold: Hold = { id: crypto.randomUUID(), req, expires: now + holdMs };
  core.state.holds.set(hold.id, hold);
  return hold;
}

/** Records the verdict of a write that was checked against everything standing: granted now. */
export async function grant(core: LedgerCore, rs: readonly Pick<Reservation, "id" | "start" | "end" | "exclusive">[]): Promise<void> {
  core.state.meta.batch += 1;
  for (const r of rs) await core.setSeen(r.id, granted(r, core.state.meta.batch));
  await core.saveMeta();
}

/**
 * Commits a hold to the calendar (If-None-Match); only then is the booking
 * real. The hold is checked again first: a sync since the hold may have
 * brought in an app event that now stands there, and a grant must never
 * overlap a standing reservation.
 */
export async function commit(core: LedgerCore, hold: Hold): Promise<Reservation> {
  try {
    const conflicts = conflictsWith(hold.req, standing(core, hold.req), core.state.holds.values(), Date.now(), { hold: hold.id });
    if (conflicts.length) throw refuse(core, hold.req, conflicts);
    const uid = `labhog-${crypto.randomUUID()}`;
    const lab = core.lab();
    const ics = newEventIcs(uid, hold.req, lab, mappingContext(lab, core.resource));
    // Should the calendar finish this create after the deadline, the next sync removes it (sync.ts).
    await core.storage.put(`abandoned:${uid}`, Date.now());
    let obj;
    try {
      obj = await core.calendar("book", (cal, signal) => cal.create(uid, ics, { signal }));
    } catch (e) {
      if (!(e instanceof CalendarDeadlineError)) await core.storage.delete(`abandoned:${uid}`);
      throw e;
    }
    await core.storage.delete(`abandoned:${uid}`);
    await core.store(obj);
    // The event stands in its place now; the hold would only keep an alarm armed for its expiry.
    core.state.holds.delete(hold.id);
    await grant(core, core.view.ofObject(obj));
    if (hold.req.leaseTtl) {
      const lease: Lease = { uid, ttl: hold.req.leaseTtl, lastKeepalive: Date.now() };
      core.state.leases.set(uid, lease);
      await core.storage.put(`lease:${uid}`, lease);
    }
    core.changed(Date.parse(hold.req.start));
    const r = core.view.reservations(Date.parse(hold.req.start) - 1, Date.parse(hold.req.end) + 1).find((x) => x.uid === uid);
    if (!r) throw new LabhogError("internal", 500, "the new event does not read back as a reservation");
    return strip(r);
  } finally {
    core.state.holds.delete(hold.id);
  }
}

/** Extend, shorten or move; one occurrence of a series gets a RECURRENCE-ID override, "following" a new series (series-writes.ts). */
export async function change(core: LedgerCore, id: string, ch: ReservationChange): Promise<Reservation> {
  const r = core.view.find(id);
  checkChange(r, ch, id);
  if (r.recurrenceId && ch.scope === "following") return changeFollowing(core, r, ch);
  const next = { start: ch.start ?? r.start, end: ch.end ?? r.end, exclusive: r.exclusive };
  validate(core, next);
  // One occurrence may not overlap the series' other occurrences either.
  const conflicts = conflictsWith(next, standing(core, next), core.state.holds.values(), Date.now(), r.recurrenceId ? { id: r.id } : { uid: r.uid });
  if (conflicts.length) throw refuse(core, { ...next, holder: r.holder.id ?? "", purpose: r.purpose }, conflicts);
  const obj = core.state.objects.get(r.objectId)!;
  const patch = {
    ...(ch.start ? { start: next.start } : {}),
    ...(ch.end ? { end: next.end } : {}),
    ...(ch.purpose !== undefined ? { summary: `${r.holder.id ?? r.holder.raw}: ${ch.purpose.replace(/[\r\n]+/g, " ")}` } : {}),
  };
  const updated = await core.calendar("change", (cal, signal) => cal.update(obj.id, patchIcs(obj.ics, patch, core.lab(), r.recurrenceId), obj.etag, { signal }));
  await core.store(updated);
  // Only what changed is a new arrival: the series' other occurrences keep their standing.
  await grant(core, core.view.ofObject(updated).filter((x) => !r.recurrenceId || x.id === r.id));
  core.changed();
  return strip(core.view.find(r.id));
}

/** Ends a running reservation now (release) or deletes an upcoming one (cancel). */
export async function release(core: LedgerCore, id: string, how: "release" | "cancel"): Promise<Reservation> {
  const r = core.view.find(id);
  const plan = releasePlan(r, how, Date.now(), id);
  const obj = core.state.objects.get(r.objectId)!;
  let out: Reservation;
  if (plan.kind === "delete" && r.recurrenceId) {
    // One occurrence of a series: an EXDATE, as a calendar app cancels "this event".
    await core.store(await core.calendar(how, (cal, signal) => cal.update(obj.id, cancelOccurrence(obj.ics, r.recurrenceId!, core.lab()), obj.etag, { signal })));
    out = r.state === "active" ? { ...strip(r), end: new Date().toISOString(), state: "ended" } : { ...strip(r), state: "ended" };
  } else if (plan.kind === "delete") {
    await core.calendar(how, (cal, signal) => cal.delete(obj.id, obj.etag, { signal }));
    await core.forget(obj.id);
    out = r.state === "active" ? { ...strip(r), end: new Date().toISOString(), state: "ended" } : { ...strip(r), state: "ended" };
  } else {
    const updated = await core.calendar(how, (cal, signal) => cal.update(obj.id, patchIcs(obj.ics, { end: plan.end }, core.lab(), r.recurrenceId), obj.etag, { signal }));
    await core.store(updated);
    out = { ...strip(r), end: plan.end, state: "ended" };
  }
  await dropLease(core, r.uid);
  core.changed();
  return out;
}

/** Undoes a booking this Worker just made (a failed atomic multi-resource booking). */
export async function retract(core: LedgerCore, id: string): Promise<boolean> {
  const r = core.view.find(id);
  if (r.source !== "api") throw new ValidationError("only API-made reservations can be retracted", { id });
  const obj = core.state.objects.get(r.objectId)!;
  await core.calendar("retract", (cal, signal) => cal.delete(obj.id, obj.etag, { signal }));
  await core.forget(obj.id);
  await dropLease(core, r.uid);
  core.changed();
  return true;
}

/** Applies a patch (usage, live line, summary, times) to a reservation's event with If-Match. Rights are the caller's business. */
export async function patchEvent(core: LedgerCore, id: string, patch: EventPatch): Promise<Reservation> {
  const r = core.view.find(id);
  const obj = core.state.objects.get(r.objectId)!;
  await core.store(await core.calendar("patch", (cal, signal) => cal.update(obj.id, patchIcs(obj.ics, patch, core.lab(), r.recurrenceId), obj.etag, { signal })));
  core.changed();
  return strip(core.view.find(r.id));
}

export async function keepalive(core: LedgerCore, id: string): Promise<LeaseInfo> {
  const r = core.view.find(id);
  const lease = core.state.leases.get(r.uid);
  if (!lease) throw new ValidationError("this reservation is not a lease", { id });
  if (r.state === "ended") throw new ConflictError("the lease has ended", { id });
  lease.lastKeepalive = Date.now();
  await core.storage.put(`lease:${r.uid}`, lease);
  await core.arm();
  return { id: r.id, ttl: lease.ttl, expiresAt: leaseExpiry(lease) };
}

export async function dropLease(core: LedgerCore, uid: string): Promise<void> {
  if (core.state.leases.delete(uid)) await core.storage.delete(`lease:${uid}`);
}

/** Ends the leases whose keep-alives stopped (from the alarm). */
export async function endLeases(core: LedgerCore, expired: readonly Lease[]): Promise<void> {
  for (const lease of expired) {
    core.log().info("lease expired", { uid: lease.uid });
    try {
      await release(core, lease.uid, "release");
    } catch (e) {
      if (e instanceof NotFoundError || e instanceof ConflictError) await dropLease(core, lease.uid);
      else core.log().warn("could not end expired lease", { uid: lease.uid, error: e });
    }
  }
}
