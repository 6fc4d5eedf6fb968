import type { TimeWindow } from "../model.ts";
import type { CallOptions } from "./deadline.ts";

export type { CallOptions };

/**
 * One event resource on a calendar server, as iCalendar text.
 * `id` is what the backend addresses it by (a CalDAV href, a Google event id).
 * Google events are translated to and from a VCALENDAR by the google backend,
 * so the rest of labhog has exactly one mapping (calendar/ical).
 */
export interface CalendarObject {
  id: string;
  etag: string;
  ics: string;
}

export interface SyncResult {
  /** Objects created or changed since the token (all objects when `full`). */
  changed: CalendarObject[];
  /** Ids of objects deleted since the token (empty when `full`). */
  deleted: string[];
  /** Pass this to the next sync. */
  token: string;
  /** True when this was a full listing: the caller replaces its cache. */
  full: boolean;
}

export interface SyncProgress {
  /** Objects fetched so far in this sync. */
  fetched: number;
  /** Total when the server told us, else undefined. */
  total?: number;
}

export interface SyncOptions extends CallOptions {
  onProgress?: (p: SyncProgress) => void;
  /**
   * The etag the caller holds for an object (its cache), if any. An
   * incremental result leaves out the objects whose etag is still that one:
   * the caller's own writes come back from the change log, and a strong ETag
   * that did not change (RFC 9110 §8.8.3) means the data did not either, so
   * fetching them again (CalDAV: a calendar-multiget with their data) would
   * only cost the server and the caller. Weak etags are fetched as before,
   * and a full result (`full: true`) lists everything.
   */
  knownEtag?: (id: string) => string | undefined;
}

/** Whether an incremental sync may leave this object out (SyncOptions.knownEtag). */
export function unchangedFor(options: SyncOptions, id: string, etag: string): boolean {
  return !etag.startsWith("W/") && options.knownEtag?.(id) === etag;
}

/** A full check's answer: applies like an incremental sync (`full: false`). */
export interface VerifyResult extends SyncResult {
  full: false;
  /** Objects the server holds now (the size of the etag listing). */
  checked: number;
}

/**
 * What labhog needs from a calendar. Implementations: memory, caldav, google.
 * All of them pass test/calendar/contract (the same suite).
 *
 * Every call is bounded: by the deadline the backend was built with (its
 * `deadlineMs` option), overridable per call, and by `options.signal`. A call
 * out of time fails with CalendarTimeoutError (503, retryAfter); a calendar
 * that refuses labhog's credentials with CalendarAuthError, never retried.
 */
export interface CalendarBackend {
  readonly kind: "memory" | "caldav" | "google";
  /** Objects with an event in the window (recurring series are returned whole). */
  list(window: TimeWindow, options?: CallOptions): Promise<CalendarObject[]>;
  /**
   * Changes since `token`; `null` means "everything". When the server refuses
   * the token the backend falls back to a full listing by itself (`full: true`).
   */
  sync(token: string | null, options?: SyncOptions): Promise<SyncResult>;
  /**
   * The full check that trusts no sync token: lists every object's etag (no
   * calendar data), compares it with `known` (the caller's cache, id → etag)
   * and fetches only what differs. Finds what an incremental sync can miss
   * silently (Nextcloud prunes its change log after ~60 days without
   * reporting a gap). Apply it like an incremental sync, token included.
   */
  verify(known: ReadonlyMap<string, string>, options?: SyncOptions): Promise<VerifyResult>;
  get(id: string, options?: CallOptions): Promise<CalendarObject>;
  /** Creates a new object for this UID; fails with ConflictError if it exists (If-None-Match: *). */
  create(uid: string, ics: string, options?: CallOptions): Promise<CalendarObject>;
  /** Replaces an object only when its etag still matches (If-Match); PreconditionFailedError otherwise. */
  update(id: string, ics: string, etag: string, options?: CallOptions): Promise<CalendarObject>;
  /** Deletes an object; with an etag only when it still matches. */
  delete(id: string, etag?: string, options?: CallOptions): Promise<void>;
}
