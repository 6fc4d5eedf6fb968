import ICAL from "ical.js";
import type { calendar_v3 } from "@googleapis/calendar";
import { ValidationError } from "../../errors.ts";
import { isLabhogProperty, packLabhogProperties } from "./labhog-properties.ts";
import { icalUtc, instantOf, isKnownZone, rfc3339Utc } from "./zoned-time.ts";

type GEvent = calendar_v3.Schema$Event;
type GDateTime = calendar_v3.Schema$EventDateTime;

/** The Google event bodies one VCALENDAR stands for. */
export interface TranslatedCalendar {
  /** Occurrences of repeated X-LABHOG-* properties left out: they did not fit Google's 1024 characters. */
  droppedProperties: number;
  uid: string;
  /** The VEVENT without RECURRENCE-ID (absent when the ICS holds only overrides). */
  master: GEvent | undefined;
  /** RECURRENCE-ID VEVENTs: each is one instance exception in Google. */
  overrides: TranslatedOverride[];
}

export interface TranslatedOverride {
  event: GEvent;
  /** Suffix of Google's instance id: `<seriesId>_<suffix>`. */
  instanceSuffix: string;
}

export interface IcsToEventOptions {
  /** IANA zone for floating times (the lab's zone). */
  defaultTimeZone: string;
}

const PARTSTAT: Record<string, string> = {
  "NEEDS-ACTION": "needsAction",
  ACCEPTED: "accepted",
  DECLINED: "declined",
  TENTATIVE: "tentative",
};

/**
 * Parses a VCALENDAR and turns its VEVENTs (one UID) into Google event
 * bodies. Bad input is a ValidationError naming what is wrong: the caller
 * wrote it, so nothing is sent to Google.
 */
export function icsToEvents(ics: string, opts: IcsToEventOptions): TranslatedCalendar {
  let root: ICAL.Component;
  try {
    root = new ICAL.Component(ICAL.parse(ics) as unknown[]);
  } catch (e) {
    throw new ValidationError(`not iCalendar: ${(e as Error).message}`);
  }
  const vevents = root.name === "vevent" ? [root] : root.getAllSubcomponents("vevent");
  if (vevents.length === 0) throw new ValidationError("the calendar object holds no VEVENT");
  const zones = new Map<string, ICAL.Timezone>();
  for (const vtz of root.getAllSubcomponents("vtimezone")) {
    const tzid = vtz.getFirstPropertyValue("tzid");
    if (typeof tzid === "string") zones.set(tzid, new ICAL.Timezone(vtz));
  }
  const uids = new Set(vevents.map((v) => String(v.getFirstPropertyValue("uid") ?? "")));
  if (uids.size !== 1 || uids.has("")) throw new ValidationError("a calendar object needs exactly one UID across its VEVENTs");
  const uid = [...uids][0]!;

  let master: GEvent | undefined;
  const overrides: TranslatedOverride[] = [];
  const dropped = { n: 0 };
  for (const ve of vevents) {
    const ev = veventToEvent(ve, uid, zones, opts, dropped);
    const rid = ve.getFirstProperty("recurrence-id");
    if (!rid) {
      if (master) throw new ValidationError("two VEVENTs without RECURRENCE-ID for one UID");
      master = ev;
      continue;
    }
    if (String(rid.getParameter("range") ?? "").toUpperCase() === "THISANDFUTURE") {
      // Google has no ranged exceptions (it splits the series instead): refuse rather than silently narrow it.
      throw new ValidationError("RECURRENCE-ID;RANGE=THISANDFUTURE cannot be stored in Google Calendar; split the series instead");
    }
    const original = toGoogleTime(rid, zones, opts, "RECURRENCE-ID");
    ev.originalStartTime = original;
    overrides.push({ event: ev, instanceSuffix: instanceSuffix(original) });
  }
  return { uid, master, overrides, droppedProperties: dropped.n };
}

/** Google's instance id suffix: the original start in UTC (`20300101T090000Z`), or the date of an all-day one. */
export function instanceSuffix(original: GDateTime): string {
  if (original.date) return original.date.replace(/-/g, "");
  return icalUtc(Date.parse(original.dateTime!));
}

function veventToEvent(ve: ICAL.Component, uid: string, zones: Map<string, ICAL.Timezone>, opts: IcsToEventOptions, dropped: { n: number }): GEvent {
  const ev: GEvent = { iCalUID: uid };
  const dtstart = ve.getFirstProperty("dtstart");
  if (!dtstart) throw new ValidationError(`VEVENT ${uid} has no DTSTART`);
  const start = toGoogleTime(dtstart, zones, opts, "DTSTART");
  const recurrence: string[] = [];
  for (const name of ["rrule", "exrule", "rdate", "exdate"]) {
    for (const p of ve.getAllProperties(name)) recurrence.push(p.toICALString().replace(/\r?\n[ \t]/g, ""));
  }
  // Google needs an IANA zone to expand a series; floating and UTC series get one.
  if (recurrence.length && start.dateTime && !start.timeZone) start.timeZone = opts.defaultTimeZone;
  ev.start = start;
  ev.end = endOf(ve, start, zones, opts);
  if (recurrence.length) ev.recurrence = recurrence;

  const text = (name: string) => {
    const v = ve.getFirstPropertyValue(name);
    return typeof v === "string" ? v : undefined;
  };
  const summary = text("summary");
  if (summary !== undefined) ev.summary = summary;
  const description = text("description");
  if (description !== undefined) ev.description = description;
  const location = text("location");
  if (location !== undefined) ev.location = location;
  const status = text("status")?.toUpperCase();
  ev.status = status === "CANCELLED" ? "cancelled" : status === "TENTATIVE" ? "tentative" : "confirmed";
  ev.transparency = text("transp")?.toUpperCase() === "TRANSPARENT" ? "transparent" : "opaque";
  const seq = ve.getFirstPropertyValue("sequence");
  if (typeof seq === "number") ev.sequence = seq;

  const organizer = ve.getFirstProperty("organizer");
  const orgEmail = organizer ? mailto(organizer.getFirstValue()) : undefined;
  if (organizer && orgEmail) {
    const cn = organizer.getParameter("cn");
    ev.organizer = { email: orgEmail, ...(typeof cn === "string" ? { displayName: cn } : {}) };
  }
  const attendees: calendar_v3.Schema$EventAttendee[] = [];
  for (const a of ve.getAllProperties("attendee")) {
    const email = mailto(a.getFirstValue());
    if (!email) continue;
    const cn = a.getParameter("cn");
    const partstat = String(a.getParameter("partstat") ?? "NEEDS-ACTION").toUpperCase();
    attendees.push({
      email,
      ...(typeof cn === "string" ? { displayName: cn } : {}),
      responseStatus: PARTSTAT[partstat] ?? "needsAction",
      ...(String(a.getParameter("role") ?? "").toUpperCase() === "OPT-PARTICIPANT" ? { optional: true } : {}),
      ...(String(a.getParameter("cutype") ?? "").toUpperCase() === "RESOURCE" ? { resource: true } : {}),
    });
  }
  if (attendees.length) ev.attendees = attendees;

  const props: Array<[string, string]> = [];
  for (const p of ve.getAllProperties()) {
    if (!isLabhogProperty(p.name)) continue;
    // The raw value text, as written (unknown X- properties are not unescaped; ours are TEXT and re-escaped alike).
    props.push([p.name, rawValue(p)]);
  }
  const packed = packLabhogProperties(props);
  dropped.n += packed.dropped;
  if (Object.keys(packed.values).length) ev.extendedProperties = { private: packed.values };
  return ev;
}

/** A property's value as it stands on its content line (after the first unquoted colon). */
function rawValue(p: ICAL.Property): string {
  const text = p.toICALString().replace(/\r?\n[ \t]/g, "");
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (c === ":" && !quoted) return text.slice(i + 1);
  }
  return String(p.getFirstValue() ?? "");
}

function mailto(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const m = /^mailto:(.+)$/i.exec(v.trim());
  const email = m ? m[1]!.trim() : v.includes("@") ? v.trim() : undefined;
  return email || undefined;
}

function endOf(ve: ICAL.Component, start: GDateTime, zones: Map<string, ICAL.Timezone>, opts: IcsToEventOptions): GDateTime {
  const dtend = ve.getFirstProperty("dtend");
  if (dtend) return toGoogleTime(dtend, zones, opts, "DTEND", start.timeZone ?? undefined);
  const duration = ve.getFirstPropertyValue("duration");
  const seconds = duration instanceof ICAL.Duration ? duration.toSeconds() : 0;
  if (start.date) {
    // RFC 5545 §3.6.1: a DATE DTSTART without DTEND lasts one day.
    const days = Math.max(1, Math.round(seconds / 86400));
    const d = new Date(Date.parse(`${start.date}T00:00:00Z`) + days * 86_400_000);
    return { date: d.toISOString().slice(0, 10) };
  }
  const ms = Date.parse(start.dateTime!) + seconds * 1000;
  return { dateTime: rfc3339Utc(ms), ...(start.timeZone ? { timeZone: start.timeZone } : {}) };
}

/** A DATE or DATE-TIME property as Google's {date} or {dateTime, timeZone}. */
function toGoogleTime(
  prop: ICAL.Property,
  zones: Map<string, ICAL.Timezone>,
  opts: IcsToEventOptions,
  what: string,
  fallbackZone?: string,
): GDateTime {
  const value = prop.getFirstValue();
  if (!(value instanceof ICAL.Time)) throw new ValidationError(`${what} is not a date or date-time`);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  if (value.isDate) return { date: `${pad(value.year, 4)}-${pad(value.month)}-${pad(value.day)}` };
  const wall = { year: value.year, month: value.month, day: value.day, hour: value.hour, minute: value.minute, second: value.second };
  if (value.zone === ICAL.Timezone.utcTimezone) {
    return { dateTime: rfc3339Utc(Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second)) };
  }
  const tzid = prop.getParameter("tzid");
  if (typeof tzid === "string" && tzid) {
    if (isKnownZone(tzid)) return { dateTime: rfc3339Utc(instantOf(wall, tzid)), timeZone: tzid };
    const vtz = zones.get(tzid);
    if (!vtz) throw new ValidationError(`${what} names TZID "${tzid}", which is neither an IANA zone nor a VTIMEZONE in the object`);
    const t = value.clone();
    t.zone = vtz;
    // A custom VTIMEZONE has no IANA name Google could store: keep the instant and the event's other zone, if any.
    return { dateTime: rfc3339Utc(t.toUnixTime() * 1000), ...(fallbackZone ? { timeZone: fallbackZone } : {}) };
  }
  const zone = fallbackZone ?? opts.defaultTimeZone;
  return { dateTime: rfc3339Utc(instantOf(wall, zone)), timeZone: zone };
}
