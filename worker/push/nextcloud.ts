import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { calendarConfigOf, calendarKeyOf } from "../../calendar/lab.ts";

/**
 * Nextcloud's webhook_listeners payload for calendar object events
 * (Nextcloud ≥ 32: OCP\Calendar\Events\AbstractCalendarObjectEvent is
 * IWebhookCompatibleEvent "@since 32.0.0"). WebhooksEventListener queues
 * `{event: {...getWebhookSerializable(), class}, user, time}` as a
 * WebhookCall background job:
 *
 *   event: { class: "OCP\\Calendar\\Events\\CalendarObjectCreatedEvent",
 *            calendarId, calendarData: {id, uri, principaluri, "{DAV:}displayname", …},
 *            shares: [{href: "principal:principals/users/<uid>", …}], objectData: {…} }
 *
 * CalendarObjectMovedEvent carries sourceCalendarData/targetCalendarData
 * (and sourceShares/targetShares) instead. `calendarData` is the calendar's
 * own row: for a calendar shared with the labhog user it names the OWNER's
 * principal and the owner's uri, while the labhog user sees the same
 * calendar as `<uri>_shared_by_<owner>` in its calendar home. Principals
 * name the user's uid, which is not the login when users come from LDAP or
 * log in with their e-mail.
 */
export const CALENDAR_OBJECT_EVENTS = ["CalendarObjectCreatedEvent", "CalendarObjectUpdatedEvent", "CalendarObjectDeletedEvent", "CalendarObjectMovedToTrashEvent", "CalendarObjectRestoredEvent", "CalendarObjectMovedEvent"] as const;

/** One calendar a push names. */
export interface PushedCalendar {
  uri?: string;
  principaluri?: string;
  displayName?: string;
  /** Principals the calendar is shared with (from the `shares` rows). */
  sharedWith: string[];
}

/** What a resource's calendar looks like in a push, as far as the lab file tells. */
export interface ExpectedCalendar {
  resource: string;
  /** Calendar uris it may have: the uri in a configured URL, else the slug labhog creates or finds by. */
  uris: string[];
  /** Its display name, when labhog finds the calendar by name. */
  displayName?: string;
  /** The owner's principal, when a configured URL pins it (`principals/users/<uid>`). */
  principal?: string;
}

const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);

/** The short class name ("CalendarObjectCreatedEvent") if it is one we sync on. */
export function eventKind(payload: unknown): (typeof CALENDAR_OBJECT_EVENTS)[number] | undefined {
  const cls = obj(obj(payload)?.event)?.class;
  if (typeof cls !== "string") return undefined;
  const short = cls.slice(cls.lastIndexOf("\\") + 1);
  return (CALENDAR_OBJECT_EVENTS as readonly string[]).includes(short) ? (short as (typeof CALENDAR_OBJECT_EVENTS)[number]) : undefined;
}

function sharesOf(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  const out: string[] = [];
  for (const s of v) {
    const href = str(obj(s)?.href) ?? str(obj(s)?.["{http://owncloud.org/ns}principal"]);
    if (href) out.push(href.replace(/^principal:/, ""));
  }
  return out;
}

export function calendarsOf(payload: unknown): PushedCalendar[] {
  const ev = obj(obj(payload)?.event) ?? {};
  const pairs: Array<[unknown, unknown]> = [
    [ev.calendarData, ev.shares],
    [ev.sourceCalendarData, ev.sourceShares],
    [ev.targetCalendarData, ev.targetShares],
  ];
  const out: PushedCalendar[] = [];
  for (const [data, shares] of pairs) {
    const c = obj(data);
    if (!c) continue;
    const uri = str(c.uri);
    const principaluri = str(c.principaluri);
    const displayName = str(c["{DAV:}displayname"]);
    out.push({ ...(uri ? { uri } : {}), ...(principaluri ? { principaluri } : {}), ...(displayName ? { displayName } : {}), sharedWith: sharesOf(shares) });
  }
  return out;
}

/** The slug the caldav backend creates a calendar under (and finds one by): calendar/backends/caldav/discovery.ts. */
export function calendarSlug(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "");
  return s || "calendar";
}

/** `…/calendars/<uid>/<uri>/` in a configured URL: the owner's principal and the calendar's uri, a shared-in one resolved to its owner's. */
export function calendarOfUrl(url: string): { principal: string; uri: string } | undefined {
  let path: string;
  try {
    path = new URL(url, "https://x.invalid").pathname;
  } catch {
    return undefined;
  }
  const parts = path.split("/").filter(Boolean).map((p) => decodeURIComponent(p));
  const i = parts.lastIndexOf("calendars");
  if (i < 0 || parts.length !== i + 3) return undefined;
  const [owner, uri] = [parts[i + 1]!, parts[i + 2]!];
  const shared = /^(.+)_shared_by_(.+)$/.exec(uri);
  return shared ? { principal: `principals/users/${shared[2]}`, uri: shared[1]! } : { principal: `principals/users/${owner}`, uri };
}

/** Per CalDAV resource, what its calendar looks like in a push (mirrors worker/ledger/calendar-port.ts's choice of calendar). */
export function expectedCalendars(lab: LabConfig): ExpectedCalendar[] {
  const out: ExpectedCalendar[] = [];
  for (const rid of Object.keys(lab.resources)) {
    const key = calendarKeyOf(lab, rid);
    const cfg = calendarConfigOf(lab, key);
    if (cfg?.backend !== "caldav") continue;
    const shared = Object.keys(lab.resources).filter((id) => calendarKeyOf(lab, id) === key).length > 1;
    // One calendar for all resources of the entry (oneCalendar): a push for it concerns each of them.
    const name = cfg.oneCalendar ? (cfg.calendar ?? key) : shared || !cfg.calendar ? rid : cfg.calendar;
    if (/^https?:\/\/|^\//i.test(name)) {
      const href = new URL(name, cfg.url).href;
      const pinned = calendarOfUrl(href);
      // Not Nextcloud's /calendars/<uid>/<uri>/ layout: the last segment is the uri, the owner unknown.
      const last = decodeURIComponent(new URL(href).pathname.split("/").filter(Boolean).at(-1) ?? "");
      out.push(pinned ? { resource: rid, uris: [pinned.uri], principal: pinned.principal } : { resource: rid, uris: [last] });
      continue;
    }
    // Found by display name (any uri), or by / created under its slug.
    const server = calendarOfUrl(cfg.url); // a server URL that is itself a calendar pins the owner at least
    out.push({ resource: rid, uris: [...new Set([calendarSlug(name), name])], displayName: name, ...(server ? { principal: server.principal } : {}) });
  }
  return out;
}

function matches(e: ExpectedCalendar, c: PushedCalendar): boolean {
  const byUri = !!c.uri && e.uris.includes(c.uri);
  const byName = e.displayName !== undefined && c.displayName === e.displayName;
  if (!byUri && !byName) return false;
  // The owner is known only from a configured URL; a login in `username` says nothing about the uid.
  return !e.principal || c.principaluri === e.principal || c.sharedWith.includes(e.principal);
}

/** The CalDAV resources whose calendar the event touched. */
export function resourcesFor(lab: LabConfig, payload: unknown): string[] {
  const cals = calendarsOf(payload);
  const out = new Set<string>();
  for (const e of expectedCalendars(lab)) if (cals.some((c) => matches(e, c))) out.add(e.resource);
  return [...out];
}
