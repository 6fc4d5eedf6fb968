import type { TimeWindow } from "../model.ts";

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

export interface SyncOptions {
  onProgress?: (p: SyncProgress) => void;
  signal?: AbortSignal;
}

/**
 * What labhog needs from a calendar. Implementations: memory, caldav, google.
 * All of them pass test/calendar/contract (the same suite).
 */
export interface CalendarBackend {
  readonly kind: "memory" | "caldav" | "google";
  /** Objects with an event in the window (recurring series are returned whole). */
  list(window: TimeWindow): Promise<CalendarObject[]>;
  /**
   * Changes since `token`; `null` means "everything". When the server refuses
   * the token the backend falls back to a full listing by itself (`full: true`).
   */
  sync(token: string | null, options?: SyncOptions): Promise<SyncResult>;
  get(id: string): Promise<CalendarObject>;
  /** Creates a new object for this UID; fails with ConflictError if it exists (If-None-Match: *). */
  create(uid: string, ics: string): Promise<CalendarObject>;
  /** Replaces an object only when its etag still matches (If-Match); PreconditionFailedError otherwise. */
  update(id: string, ics: string, etag: string): Promise<CalendarObject>;
  /** Deletes an object; with an etag only when it still matches. */
  delete(id: string, etag?: string): Promise<void>;
}
