import { LabhogError } from "../../errors.ts";
import type { RawReply } from "./transport.ts";

/**
 * Nextcloud limits how many calendars a user makes
 * (apps/dav/lib/CalDAV/Security/RateLimitingPlugin.php, on every new
 * `calendars/<user>/<name>`):
 * - more than `rateLimitCalendarCreation` (default 10) per
 *   `rateLimitPeriodCalendarCreation` seconds (default 3600): 429
 *   "Too many calendars created";
 * - `maximumCalendarsSubscriptions` (default 30; -1 = no limit) calendars
 *   and subscriptions together: 403 "Calendar limit reached".
 * A lab of 40 resources with one calendar each hits both on its first
 * deploy. Retrying doesn't help (every try counts against the hour), so
 * this is a plain error naming the setting, never retried.
 */
export class CalendarLimitError extends LabhogError {
  constructor(message: string, detail: Record<string, unknown>) {
    super("calendar-limit", 502, message, detail);
  }
}

const CREATE = /^(MKCALENDAR|MKCOL)\b/;

export function calendarLimitError(reply: RawReply, what: string): CalendarLimitError | undefined {
  if (!CREATE.test(what)) return undefined;
  if (reply.status === 429 && /Too many calendars created/i.test(reply.text)) {
    return new CalendarLimitError(
      `${what}: Nextcloud refused to create another calendar this hour (429 "Too many calendars created"): the server allows rateLimitCalendarCreation calendars (default 10) per rateLimitPeriodCalendarCreation seconds (default 3600). ` +
        "Raise it (occ config:app:set dav rateLimitCalendarCreation --value=50), create the calendars beforehand and name them in the lab file, or wait an hour.",
      { setting: "rateLimitCalendarCreation", status: 429 },
    );
  }
  if (reply.status === 403 && /Calendar limit reached/i.test(reply.text)) {
    return new CalendarLimitError(
      `${what}: Nextcloud refused to create another calendar (403 "Calendar limit reached"): the user already has maximumCalendarsSubscriptions calendars and subscriptions (default 30). ` +
        "Raise it (occ config:app:set dav maximumCalendarsSubscriptions --value=-1 for no limit) or give the resources calendars owned by another user.",
      { setting: "maximumCalendarsSubscriptions", status: 403 },
    );
  }
  return undefined;
}
