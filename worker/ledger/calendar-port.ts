/**
 * The one place the ledger touches the calendar/ modules (mapping, conflicts,
 * slots, backends), so their exact signatures matter here only.
 */
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import type { CalendarBackend, CalendarObject } from "../../calendar/backends/backend.ts";
import type { Reservation, TimeWindow, User } from "../../calendar/model.ts";
import { ValidationError } from "../../calendar/errors.ts";
import { MemoryBackend } from "../../calendar/backends/memory.ts";
import type { KeyValueStore } from "../../calendar/backends/kv-store.ts";
import { caldavBackend } from "../../calendar/backends/caldav/backend.ts";
import { createGoogleBackend } from "../../calendar/backends/google/index.ts";
import { OneCalendarView } from "../../calendar/backends/one-calendar.ts";
import { conflictMarkerOf as markerOf, patchEventIcs, reservationToIcs, reservationsFromIcs, type EventPatch, type MappingContext } from "../../calendar/ical/index.ts";
import type { SeriesWrite } from "../../calendar/ical/write.ts";
import { cancelOccurrenceIcs, ruleHasByDay, shiftExceptionsIcs, splitSeriesIcs, type SplitSeries } from "../../calendar/ical/series-edit.ts";
import { resolveConflicts } from "../../calendar/conflicts.ts";
import { nextFreeSlot } from "../../calendar/slots.ts";
import { calendarConfigOf, calendarKeyOf, resourceConfigOf, usersOf } from "../../calendar/lab.ts";
import { secretOf, type Env } from "../env.ts";
import type { Logger } from "../log.ts";
import type { BookRequest } from "./protocol.ts";

export type { CalendarBackend, CalendarObject, EventPatch, MappingContext };

export { calendarKeyOf };

/**
 * The backend holding one resource's calendar. A CalDAV calendar config
 * shared by several resources (a server root) gives each resource its own
 * calendar, named like the resource and created when missing.
 */
export async function backendFor(env: Env, lab: LabConfig, resource: string, store: KeyValueStore, log: Logger): Promise<CalendarBackend> {
  const key = calendarKeyOf(lab, resource);
  const cfg = calendarConfigOf(lab, key);
  if (!cfg) throw new ValidationError(`resource ${resource}: unknown calendar ${key}`);
  const shared = Object.keys(lab.resources).filter((r) => calendarKeyOf(lab, r) === key).length > 1;
  switch (cfg.backend) {
    case "memory":
      return new MemoryBackend({ store, prefix: "cal/" });
    case "caldav": {
      const password = secretOf(env, cfg.passwordSecret);
      const backend = await caldavBackend({
        serverUrl: cfg.url,
        calendar: cfg.oneCalendar ? (cfg.calendar ?? key) : shared || !cfg.calendar ? resource : cfg.calendar,
        createCalendar: true,
        state: prefixed(store, "caldav/"),
        ...(cfg.username ? { username: cfg.username } : {}),
        ...(password !== undefined ? { password } : {}),
        log: (e) => log[e.level](e.msg, e),
      });
      if (!cfg.oneCalendar) return backend;
      // Several resources in one calendar: this resource's events only.
      const name = resourceConfigOf(lab, resource)?.name;
      return new OneCalendarView(backend, { id: resource, ...(name ? { name } : {}) });
    }
    case "google":
      return createGoogleBackend({
        calendarId: cfg.calendarId,
        credentials: secretOf(env, cfg.credentialsSecret) ?? "",
        timeZone: lab.timezone,
        ...(cfg.subject ? { subject: cfg.subject } : {}),
        ...(cfg.apiRoot ? { apiRoot: cfg.apiRoot } : {}),
        ...(cfg.tokenUrl ? { tokenUrl: cfg.tokenUrl } : {}),
        log: (level, msg, fields) => log[level](msg, fields),
      });
  }
}

/** Durable Object storage under a key prefix, so the backend's state can't collide with the ledger's. */
function prefixed(store: KeyValueStore, p: string): KeyValueStore {
  return {
    get: (k) => store.get(p + k),
    put: (k, v) => store.put(p + k, v),
    delete: (k) => store.delete(p + k),
    list: async (o) => {
      const m = await store.list<unknown>({ prefix: p + o.prefix, ...(o.start !== undefined ? { start: p + o.start } : {}) });
      return new Map([...m].map(([k, v]) => [k.slice(p.length), v])) as never;
    },
  };
}

let usersCache: { lab: LabConfig; users: User[] } | undefined;
function users(lab: LabConfig): User[] {
  if (usersCache?.lab !== lab) usersCache = { lab, users: usersOf(lab) };
  return usersCache.users;
}

export function userOf(lab: LabConfig, id: string): User | undefined {
  return users(lab).find((u) => u.id === id);
}

export function mappingContext(lab: LabConfig, resource: string): MappingContext {
  const owner = resourceConfigOf(lab, resource)?.owner;
  return { resource, timezone: lab.timezone, users: users(lab), ...(owner ? { owner } : {}) };
}

/** The reservations of one calendar object that touch the window (throws InvalidEventError for bad objects). */
export function reservationsOf(obj: CalendarObject, window: TimeWindow, ctx: MappingContext): Reservation[] {
  return reservationsFromIcs(obj.ics, ctx, window, obj.id);
}

export function newEventIcs(uid: string, req: BookRequest, lab: LabConfig, ctx: MappingContext, series?: SeriesWrite): string {
  const holder = userOf(lab, req.holder);
  if (!holder) throw new ValidationError(`unknown user ${req.holder}`, { path: "holder" });
  return reservationToIcs(
    {
      uid,
      holder,
      start: req.start,
      end: req.end,
      exclusive: req.exclusive,
      purpose: req.purpose,
      ...(req.image ? { image: req.image } : {}),
      ...(req.mode ? { mode: req.mode } : {}),
      ...(req.leaseTtl ? { leaseTtl: req.leaseTtl } : {}),
      ...(series ? { series } : {}),
    },
    ctx,
  );
}

/** One occurrence cancelled: an EXDATE on the series. */
export function cancelOccurrence(ics: string, recurrenceId: string, lab: LabConfig): string {
  return cancelOccurrenceIcs(ics, recurrenceId, { timezone: lab.timezone });
}

/** A series' EXDATEs and override RECURRENCE-IDs moved by `shift` (its start moved). */
export function shiftExceptions(ics: string, shift: (ms: number) => number, lab: LabConfig): string {
  return shiftExceptionsIcs(ics, shift, { timezone: lab.timezone });
}

export function seriesNamesWeekdays(ics: string, lab: LabConfig): boolean {
  return ruleHasByDay(ics, { timezone: lab.timezone });
}

/** "This and following": the series ended before the occurrence, and a new one (newUid) from it. */
export function splitSeries(ics: string, recurrenceId: string, newUid: string, lab: LabConfig): SplitSeries {
  return splitSeriesIcs(ics, recurrenceId, newUid, { timezone: lab.timezone });
}

export function patchIcs(ics: string, patch: EventPatch, lab: LabConfig, recurrenceId?: string): string {
  return patchEventIcs(ics, patch, recurrenceId, { timezone: lab.timezone });
}

/** Losers of overlaps (by the design's precedence rule), with the winners they lost to. */
export function conflictLosers(rs: Reservation[]): Map<string, string[]> {
  return resolveConflicts(rs).losers;
}

export function freeSlotAfter(rs: Reservation[], after: string, durationMs: number, exclusive: boolean): { start: string; end: string } {
  return nextFreeSlot(rs, durationMs, new Date(after), exclusive);
}

/** Whether labhog's conflict mark is on the event (or on that occurrence). */
export function conflictMarkerOf(ics: string, recurrenceId: string | undefined, timezone: string): boolean {
  return markerOf(ics, recurrenceId, timezone).conflict;
}

/**
 * Whether the object could carry labhog's conflict mark at all, without
 * parsing it: most events carry no X-LABHOG-STATE. Looked for in the
 * unfolded text: RFC 5545 §3.1 lets a line fold anywhere, inside the name too.
 */
export function mayCarryConflictMark(ics: string): boolean {
  return /X-LABHOG-STATE[;:]/i.test(ics.replace(/\r?\n[ \t]/g, ""));
}
