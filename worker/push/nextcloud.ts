import type { LabConfig } from "../../calendar/config/lab-config.ts";

/**
 * Nextcloud's webhook_listeners payload for calendar object events:
 * `{user, time, event: {class, calendarId, calendarData: {id, uri, principaluri, …}, objectData: {…}}}`
 * (CalendarObjectMovedEvent carries sourceCalendarData and targetCalendarData).
 */
export const CALENDAR_OBJECT_EVENTS = ["CalendarObjectCreatedEvent", "CalendarObjectUpdatedEvent", "CalendarObjectDeletedEvent", "CalendarObjectMovedToTrashEvent", "CalendarObjectRestoredEvent", "CalendarObjectMovedEvent"] as const;

interface CalendarRow {
  uri?: string;
  principaluri?: string;
}

const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** The short class name ("CalendarObjectCreatedEvent") if it is one we sync on. */
export function eventKind(payload: unknown): (typeof CALENDAR_OBJECT_EVENTS)[number] | undefined {
  const cls = obj(obj(payload)?.event)?.class;
  if (typeof cls !== "string") return undefined;
  const short = cls.slice(cls.lastIndexOf("\\") + 1);
  return (CALENDAR_OBJECT_EVENTS as readonly string[]).includes(short) ? (short as (typeof CALENDAR_OBJECT_EVENTS)[number]) : undefined;
}

function calendarsOf(payload: unknown): CalendarRow[] {
  const ev = obj(obj(payload)?.event) ?? {};
  return [ev.calendarData, ev.sourceCalendarData, ev.targetCalendarData]
    .map(obj)
    .filter((c): c is Record<string, unknown> => !!c)
    .map((c) => ({ ...(typeof c.uri === "string" ? { uri: c.uri } : {}), ...(typeof c.principaluri === "string" ? { principaluri: c.principaluri } : {}) }));
}

/** The last path segment of a collection URL or name ("…/calendars/alice/rock5b-1/" → "rock5b-1"). */
function slug(s: string): string {
  const parts = s.split("/").filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] ?? s);
}

/** The CalDAV resources whose calendar the event touched (by calendar URI, and owner when the lab names one). */
export function resourcesFor(lab: LabConfig, payload: unknown): string[] {
  const cals = calendarsOf(payload);
  const out = new Set<string>();
  for (const [rid, r] of Object.entries(lab.resources)) {
    const key = r.calendar ?? (rid in lab.calendars ? rid : "default");
    const cfg = lab.calendars[key];
    if (cfg?.backend !== "caldav") continue;
    const shared = Object.entries(lab.resources).filter(([id, x]) => (x.calendar ?? (id in lab.calendars ? id : "default")) === key).length > 1;
    const name = shared || !cfg.calendar ? rid : cfg.calendar;
    for (const c of cals) {
      if (!c.uri) continue;
      const owner = c.principaluri ? slug(c.principaluri) : undefined;
      if ((c.uri === slug(name) || c.uri === name) && (!cfg.username || !owner || owner === cfg.username)) out.add(rid);
    }
  }
  return [...out];
}
