import { durationSeconds } from "../../calendar/config/lab-config.ts";
import { ConflictError, LabhogError } from "../../calendar/errors.ts";
import type { Reservation } from "../../calendar/model.ts";
import { conflictsWith, validateSpan } from "./booking-rules.ts";
import { mappingContext, newEventIcs, patchIcs, reservationsOf, seriesNamesWeekdays, shiftExceptions, splitSeries, type CalendarObject } from "./calendar-port.ts";
import type { LedgerCore } from "./core.ts";
import { CalendarDeadlineError } from "./deadline.ts";
import type { ReservationChange, SeriesBooked, SeriesRequest } from "./protocol.ts";
import { checkSeriesSize, seriesRule, seriesVerdict, wallShift, type OccurrenceCheck } from "./series-rules.ts";
import { cacheWindow } from "./state.ts";
import { grant, release, validate } from "./writes.ts";
import { strip, type Row } from "./view.ts";

/**
 * Recurring bookings and "this and following" edits, inside the ledger's
 * serial queue like every write (writes.ts). Each occurrence is checked
 * against what stands, the verdict for the series follows series-rules.ts,
 * and the series is written as one event with an RRULE (+ EXDATEs) in the
 * lab's zone.
 */

function maxSeries(core: LedgerCore): { ms: number; text: string } {
  const v = core.lab().policy.maxSeriesLength;
  return { ms: durationSeconds(v) * 1000, text: String(v) };
}

function occurrencesOf(core: LedgerCore, ics: string, fromMs: number, toMs: number): Reservation[] {
  const obj = { id: "(new)", ics, etag: "" } as CalendarObject;
  return reservationsOf(obj, { start: new Date(fromMs), end: new Date(toMs) }, mappingContext(core.lab(), core.resource));
}

/** Each occurrence against the standing reservations and holds (`except`: the series being replaced). */
function check(core: LedgerCore, occ: readonly Reservation[], exclusive: boolean, except: { uid?: string } = {}): OccurrenceCheck[] {
  if (!occ.length) return [];
  const now = Date.now();
  const rows = core.view.reservations(Date.parse(occ[0]!.start), Math.max(...occ.map((o) => Date.parse(o.end))) + 1);
  return occ.map((o) => ({ start: o.start, end: o.end, conflicts: conflictsWith({ start: o.start, end: o.end, exclusive }, rows, core.state.holds.values(), now, except) }));
}

/** Creates a calendar object, or nothing: a create the calendar finishes after the deadline is removed by the next sync. */
async function create(core: LedgerCore, uid: string, ics: string, what: string): Promise<CalendarObject> {
  await core.storage.put(`abandoned:${uid}`, Date.now());
  let obj: CalendarObject;
  try {
    obj = await core.calendar(what, (cal, signal) => cal.create(uid, ics, { signal }));
  } catch (e) {
    if (!(e instanceof CalendarDeadlineError)) await core.storage.delete(`abandoned:${uid}`);
    throw e;
  }
  await core.storage.delete(`abandoned:${uid}`);
  await core.store(obj);
  return obj;
}

/** Books a series: the first occurrence is `req.start`–`req.end` (moved to the first day the rule names). */
export async function bookSeries(core: LedgerCore, req: SeriesRequest): Promise<SeriesBooked> {
  const lab = core.lab();
  const max = maxSeries(core);
  // iCalendar has second precision: the series starts on a whole second.
  const startMs = Math.floor(Date.parse(req.start) / 1000) * 1000;
  const lengthMs = Math.floor(Date.parse(req.end) / 1000) * 1000 - startMs;
  const rule = seriesRule(req.repeat, startMs, lab.timezone, max.ms, max.text);
  const first = { ...req, start: new Date(rule.startMs).toISOString(), end: new Date(rule.startMs + lengthMs).toISOString() };
  validate(core, first);
  const horizonEnd = rule.startMs + max.ms + lengthMs + 1;
  const uid = `labhog-${crypto.randomUUID()}`;
  const ctx = mappingContext(lab, core.resource);
  const series = { rrule: rule.rrule, lastEndMs: horizonEnd };
  const occ = occurrencesOf(core, newEventIcs(uid, first, lab, ctx, series), rule.startMs - 1, horizonEnd);
  checkSeriesSize(occ, req.repeat.count, max.text);
  const verdict = seriesVerdict(core.resource, check(core, occ, req.exclusive), req.skipConflicts);
  const ics = newEventIcs(uid, first, lab, ctx, { ...series, exdatesMs: verdict.skip.map((s) => Date.parse(s)) });
  const obj = await create(core, uid, ics, "book");
  await grant(core, core.view.ofObject(obj));
  core.changed();
  const mine = core.view.reservations(rule.startMs - 1, horizonEnd).filter((r) => r.uid === uid);
  if (!mine.length) throw new LabhogError("internal", 500, "the new series does not read back as reservations");
  return { reservations: mine.map(strip), skipped: verdict.skip };
}

/**
 * "This and following" (PATCH …?scope=following): the series ends with
 * UNTIL before the occurrence and a new series (new UID) starts there, with
 * the change applied to it; its occurrences are checked like a new booking.
 * Moving the start moves the later EXDATEs and overrides by the same
 * wall-clock amount; a move to another day of a series that names weekdays
 * (BYDAY) is refused (422): the rule would not follow.
 */
export async function changeFollowing(core: LedgerCore, r: Row, ch: ReservationChange): Promise<Reservation> {
  const lab = core.lab();
  const obj = core.state.objects.get(r.objectId)!;
  const newUid = `labhog-${crypto.randomUUID()}`;
  let split = splitSeries(obj.ics, r.recurrenceId!, newUid, lab);
  let whole = obj.ics;
  if (ch.start !== undefined && Date.parse(ch.start) !== Date.parse(r.recurrenceId!)) {
    // The new series' instances move on the wall clock; its cancellations and overrides move with them.
    const move = wallShift(lab.timezone, Date.parse(r.recurrenceId!), Date.parse(ch.start));
    if (!move.sameDay && seriesNamesWeekdays(split.tail, lab)) {
      throw new LabhogError("series-weekdays", 422, "the series repeats on named weekdays: moving this and the following occurrences to another day would not move those; change the series in the calendar app", { id: r.id });
    }
    split = { head: split.head, tail: shiftExceptions(split.tail, move.shift, lab) };
    if (split.head === null) whole = shiftExceptions(obj.ics, move.shift, lab);
  }
  const patch = {
    ...(ch.start ? { start: ch.start } : {}),
    ...(ch.end ? { end: ch.end } : {}),
    ...(ch.purpose !== undefined ? { summary: `${r.holder.id ?? r.holder.raw}: ${ch.purpose.replace(/[\r\n]+/g, " ")}` } : {}),
  };
  const tail = patchIcs(split.tail, patch, lab);
  const w = cacheWindow(Date.now());
  const occ = occurrencesOf(core, tail, w.start, w.end);
  if (occ[0]) validate(core, occ[0]);
  const limit = durationSeconds(lab.policy.maxReservation) * 1000;
  for (const o of occ) validateSpan(o, limit, String(lab.policy.maxReservation), Number.NEGATIVE_INFINITY);
  seriesVerdict(core.resource, check(core, occ, r.exclusive, { uid: r.uid }), false);

  if (split.head === null) {
    // The occurrence is the series' first: the whole series changes, under its own UID.
    const updated = await core.calendar("change", (cal, signal) => cal.update(obj.id, patchIcs(whole, patch, lab), obj.etag, { signal }));
    await core.store(updated);
    await grant(core, core.view.ofObject(updated));
    core.changed();
    return strip(core.view.reservations(w.start, w.end).find((x) => x.uid === r.uid) ?? core.view.find(r.uid));
  }
  const head = await core.calendar("change", (cal, signal) => cal.update(obj.id, split.head!, obj.etag, { signal }));
  await core.store(head);
  let created: CalendarObject;
  try {
    created = await create(core, newUid, tail, "change");
  } catch (e) {
    // Put the series back as it was rather than leave it cut short.
    try {
      await core.store(await core.calendar("change", (cal, signal) => cal.update(obj.id, obj.ics, head.etag, { signal })));
    } catch (undo) {
      core.log().error("a split series could not be put back", { id: r.id, error: undo });
    }
    throw e;
  }
  await grant(core, core.view.ofObject(created));
  core.changed();
  const firstNew = core.view.reservations(w.start, w.end).find((x) => x.uid === newUid);
  if (!firstNew) throw new LabhogError("internal", 500, "the new series does not read back as reservations");
  return strip(firstNew);
}

/** Cancels an occurrence and the following ones: the series ends with UNTIL before it (or goes, when it is the first). */
export async function cancelFollowing(core: LedgerCore, id: string): Promise<Reservation> {
  const r = core.view.find(id);
  if (!r.recurrenceId) return release(core, id, "cancel");
  if (r.state === "ended") throw new ConflictError("the reservation is over already", { id });
  if (r.state === "active") throw new ConflictError("this occurrence is running: release it, then cancel the following ones", { id });
  const obj = core.state.objects.get(r.objectId)!;
  const split = splitSeries(obj.ics, r.recurrenceId!, "(unused)", core.lab());
  if (split.head === null) {
    await core.calendar("cancel", (cal, signal) => cal.delete(obj.id, obj.etag, { signal }));
    await core.forget(obj.id);
  } else {
    await core.store(await core.calendar("cancel", (cal, signal) => cal.update(obj.id, split.head!, obj.etag, { signal })));
  }
  core.changed();
  return { ...strip(r), state: "ended" };
}
