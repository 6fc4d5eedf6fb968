/**
 * The `google` calendar backend: Google Calendar API v3 through
 * @googleapis/calendar, authenticated as a service account (JWT bearer grant,
 * signed with jose/WebCrypto). Runs in Node and in workerd (nodejs_compat).
 *
 * How Google events map to CalendarObjects (the rest of labhog sees iCalendar;
 * each rule below is one Google documents, and the stand-in in
 * test/google-standin enforces it):
 * - A single event is one object: `id` the Google event id, `etag` Google's.
 * - A series is ONE object with its exceptions: Google keeps a moved or
 *   cancelled occurrence as its own event (`recurringEventId`,
 *   `originalStartTime`); here they are RECURRENCE-ID VEVENTs (a cancelled
 *   one with STATUS:CANCELLED) in the series' VCALENDAR, so a moved
 *   occurrence replaces its original and a cancelled one frees the slot.
 *   Its etag is Google's while it has no exceptions, else a digest of all
 *   members' etags (checked against Google before a write). Deleting it
 *   deletes the master; Google cancels the exceptions with it. Cancelled
 *   items trimmed to id, recurringEventId and originalStartTime never fail a
 *   sync. Sync tokens carry a `g2:` prefix: older ones mean a full sync.
 * - create(uid, ics) inserts with a deterministic id derived from the UID
 *   (event-id.ts), so an insert resent after a lost answer finds its own
 *   event; a UID whose deleted event Google won't revive is a clear
 *   ConflictError. Writes are events.patch: fields people set in Google
 *   (reminders, colour, guests, other apps' properties) survive.
 * - Attendees are sent only under domain-wide delegation (`subject`);
 *   `organizer` never (read-only except on import). Reading, when the
 *   calendar itself is the organizer the holder is the event's creator.
 * - X-LABHOG-* properties travel in extendedProperties.private within
 *   Google's limits (labhog-properties.ts).
 * - 429 and rate-limit 403s are retried with a longer backoff;
 *   quotaExceeded is not retried (google-errors.ts, retry.ts).
 * - The first full sync reaches `fullSyncLookbackDays` back (default 35).
 * - RANGE=THISANDFUTURE overrides are refused (Google splits series instead).
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
