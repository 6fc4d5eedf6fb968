/**
 * The `google` calendar backend: Google Calendar API v3 through
 * @googleapis/calendar, authenticated as a service account (JWT bearer grant,
 * signed with jose/WebCrypto). Runs in Node and in workerd (nodejs_compat).
 *
 * How Google events map to CalendarObjects (the rest of labhog sees iCalendar):
 * - One CalendarObject per Google event; `id` is the Google event id and
 *   `etag` Google's etag (sent back as If-Match).
 * - A series is its master event: one VEVENT with RRULE/EXDATE/RDATE.
 * - An instance exception is its own Google event (`recurringEventId`,
 *   `originalStartTime`, id `<seriesId>_<originalStartUTC>`), so it is its own
 *   object holding only the RECURRENCE-ID VEVENT with the series UID. A
 *   cancelled instance is such an object with STATUS:CANCELLED, both in full
 *   listings and in incremental sync (it is not a deletion: the series stays).
 *   Only a cancelled event without `recurringEventId` is a deletion.
 * - create(uid, ics) inserts the master with iCalUID = uid (Google makes the
 *   id); RECURRENCE-ID VEVENTs in the same ICS are written as instance
 *   exceptions (events.update on the instance id) and come back as their own
 *   objects. A duplicate UID is a ConflictError; a UID whose event was
 *   deleted is revived (Google keeps deleted events and their iCalUIDs).
 *   RANGE=THISANDFUTURE overrides are refused (Google splits series instead).
 * - X-LABHOG-* properties travel in extendedProperties.private, keyed by the
 *   property name, values kept as raw iCalendar value text.
 * - ORGANIZER is whatever Google says (on insert Google makes the calendar
 *   the organizer; labhog's holder travels in X-LABHOG-HOLDER).
 */
import type { CalendarBackend } from "../backend.ts";
import { GoogleCalendarBackend, type GoogleLog, type WatchChannel, type WatchRequest } from "./google-backend.ts";
import { defaultRetryPolicy, type RetryPolicy } from "./retry.ts";
import { parseServiceAccountKey, ServiceAccountTokenSource, type ServiceAccountKey } from "./service-account.ts";

export interface GoogleBackendOptions {
  calendarId: string;
  /** The service-account JSON key (text as downloaded, or parsed). */
  credentials: string | ServiceAccountKey;
  /** Default https://www.googleapis.com/ */
  apiRoot?: string;
  /** Default: the key's token_uri, else https://oauth2.googleapis.com/token */
  tokenUrl?: string;
  /**
   * Domain-wide delegation: act as this user (JWT `sub`). Needed for
   * attendees: without it no attendee is ever sent (Google refuses them from
   * service accounts, 403 forbiddenForServiceAccounts); the holder then
   * travels in X-LABHOG-HOLDER only. Google also attributes the per-user
   * quota to this user instead of the service account.
   */
  subject?: string;
  /**
   * How far back the first full sync reaches, in days (events ending
   * earlier are not fetched). Default 35, the past the ledger keeps;
   * null = the calendar's whole history.
   */
  fullSyncLookbackDays?: number | null;
  now?: () => number;
  /** IANA zone for floating times in objects we write (the lab's zone). Default UTC. */
  timeZone?: string;
  /** Events per page (maxResults). Default 250. */
  pageSize?: number;
  retry?: Partial<RetryPolicy>;
  fetch?: typeof fetch;
  log?: GoogleLog;
}

export interface GoogleBackend extends CalendarBackend {
  readonly kind: "google";
  watch(o: WatchRequest): Promise<WatchChannel>;
  stopWatch(id: string, resourceId: string): Promise<void>;
}

export function createGoogleBackend(opts: GoogleBackendOptions): GoogleBackend {
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const tokens = new ServiceAccountTokenSource({
    key: parseServiceAccountKey(opts.credentials),
    ...(opts.tokenUrl ? { tokenUrl: opts.tokenUrl } : {}),
    ...(opts.subject ? { subject: opts.subject } : {}),
    fetch: doFetch,
  });
  return new GoogleCalendarBackend({
    calendarId: opts.calendarId,
    tokens,
    apiRoot: opts.apiRoot ?? "https://www.googleapis.com/",
    timeZone: opts.timeZone ?? "UTC",
    pageSize: Math.min(2500, Math.max(1, opts.pageSize ?? 250)),
    retry: { ...defaultRetryPolicy, ...opts.retry },
    fetch: doFetch,
    delegated: !!opts.subject,
    fullSyncLookbackMs: opts.fullSyncLookbackDays === null ? undefined : (opts.fullSyncLookbackDays ?? 35) * 86_400_000,
    now: opts.now ?? Date.now,
    ...(opts.log ? { log: opts.log } : {}),
  });
}

export { GoogleCalendarBackend } from "./google-backend.ts";
export { ServiceAccountTokenSource, parseServiceAccountKey, type ServiceAccountKey } from "./service-account.ts";
export { eventToIcs } from "./event-to-ics.ts";
export { icsToEvents } from "./ics-to-event.ts";
export type { RetryPolicy } from "./retry.ts";
export type { GoogleLog, WatchChannel, WatchRequest } from "./google-backend.ts";
