import ICAL from "ical.js";
import type { calendar_v3 } from "@googleapis/calendar";
import { isLabhogProperty, unpackLabhogProperty } from "./labhog-properties.ts";
import { icalLocal, icalUtc, isKnownZone, isUtcZone, wallTimeIn } from "./zoned-time.ts";

type GEvent = calendar_v3.Schema$Event;
type GDateTime = calendar_v3.Schema$EventDateTime;

/**
 * One Google event as a VCALENDAR with one VEVENT.
 *
 * - A series master carries its `recurrence` lines (RRULE/EXRULE/RDATE/EXDATE) verbatim.
 * - An instance exception (`recurringEventId` + `originalStartTime`) becomes a
 *   VEVENT with the series UID and a RECURRENCE-ID; a cancelled instance is
 *   that VEVENT with STATUS:CANCELLED (the occurrence is gone, the series stays).
 * - Timed values with an IANA `timeZone` are written as local time with a bare
 *   TZID (RFC 7809), so recurrence expansion follows the zone's DST rules;
 *   without a zone they are UTC. All-day values are VALUE=DATE.
 */
export function eventToIcs(ev: GEvent): string {
  return groupToIcs(ev, []);
}

/**
 * A series and its exceptions as ONE VCALENDAR: the master VEVENT, then one
 * RECURRENCE-ID VEVENT per exception (moved, or STATUS:CANCELLED). Google
 * keeps each exception as its own event (`recurringEventId`,
 * `originalStartTime`); iCalendar (RFC 5545 §3.8.4.4) and so the rest of
 * labhog expect them in the series' object, where a moved occurrence
 * replaces its original and a cancelled one removes it.
 *
 * Cancelled exceptions may arrive trimmed to id, recurringEventId and
 * originalStartTime (no etag, no zone): the series' zone fills in.
 */
export function groupToIcs(master: GEvent, exceptions: GEvent[]): string {
  const cal = new ICAL.Component(["vcalendar", [], []]);
  cal.addPropertyWithValue("version", "2.0");
  cal.addPropertyWithValue("prodid", "-//labhog//google backend//EN");
  cal.addSubcomponent(eventToVevent(master));
  const uid = master.iCalUID ?? `${master.id}@google.com`;
  const zone = master.start?.timeZone ?? undefined;
  for (const ex of exceptions) {
    if (!ex.originalStartTime) continue;
    const original = { ...ex.originalStartTime, ...(ex.originalStartTime.timeZone || !zone ? {} : { timeZone: zone }) };
    cal.addSubcomponent(eventToVevent({ ...ex, iCalUID: uid, originalStartTime: original, ...(ex.status === "cancelled" && !ex.start ? { start: original } : {}) }));
  }
  return cal.toString() + "\r\n";
}

export function eventToVevent(ev: GEvent): ICAL.Component {
  const ve = new ICAL.Component("vevent");
  ve.addPropertyWithValue("uid", ev.iCalUID ?? `${ev.id}@google.com`);
  const stamp = Date.parse(ev.updated ?? ev.created ?? "") || Date.now();
  ve.addProperty(line(`DTSTAMP:${icalUtc(stamp)}`));
  if (ev.created) ve.addProperty(line(`CREATED:${icalUtc(Date.parse(ev.created))}`));
  if (ev.updated) ve.addProperty(line(`LAST-MODIFIED:${icalUtc(Date.parse(ev.updated))}`));

  const zone = ev.start?.timeZone ?? ev.originalStartTime?.timeZone ?? undefined;
  const start = ev.start ?? (ev.recurringEventId ? ev.originalStartTime : undefined);
  if (start) ve.addProperty(dateProperty("DTSTART", start, zone));
  if (ev.end) ve.addProperty(dateProperty("DTEND", ev.end, ev.end.timeZone ?? zone));
  if (ev.recurringEventId && ev.originalStartTime) {
    ve.addProperty(dateProperty("RECURRENCE-ID", ev.originalStartTime, ev.originalStartTime.timeZone ?? zone));
  }
  for (const r of ev.recurrence ?? []) {
    if (/^(RRULE|EXRULE|RDATE|EXDATE)[;:]/i.test(r)) ve.addProperty(line(r));
  }

  if (ev.summary) ve.addPropertyWithValue("summary", ev.summary);
  if (ev.description) ve.addPropertyWithValue("description", ev.description);
  if (ev.location) ve.addPropertyWithValue("location", ev.location);
  if (ev.status) ve.addPropertyWithValue("status", ev.status.toUpperCase());
  if (start) ve.addPropertyWithValue("transp", ev.transparency === "transparent" ? "TRANSPARENT" : "OPAQUE");
  if (typeof ev.sequence === "number") ve.addPropertyWithValue("sequence", ev.sequence);

  // Whoever made the event in Google: the API makes the calendar itself the
  // organizer of what is created on it (organizer is read-only except on
  // import), so when the calendar is the organizer the person is the creator.
  const person = ev.organizer?.self && ev.creator?.email && !ev.creator.self ? ev.creator : ev.organizer;
  if (person?.email) {
    const p = new ICAL.Property("organizer");
    p.setValue(`mailto:${person.email}`);
    if (person.displayName) p.setParameter("cn", person.displayName);
    ve.addProperty(p);
  }
  for (const a of ev.attendees ?? []) {
    if (!a.email) continue;
    const p = new ICAL.Property("attendee");
    p.setValue(`mailto:${a.email}`);
    if (a.displayName) p.setParameter("cn", a.displayName);
    p.setParameter("partstat", PARTSTAT[a.responseStatus ?? "needsAction"] ?? "NEEDS-ACTION");
    p.setParameter("role", a.optional ? "OPT-PARTICIPANT" : "REQ-PARTICIPANT");
    if (a.resource) p.setParameter("cutype", "RESOURCE");
    ve.addProperty(p);
  }
  for (const [name, value] of Object.entries(ev.extendedProperties?.private ?? {})) {
    if (!isLabhogProperty(name) || typeof value !== "string") continue;
    for (const l of unpackLabhogProperty(name, value)) ve.addProperty(line(l));
  }
  return ve;
}

const PARTSTAT: Record<string, string> = {
  needsAction: "NEEDS-ACTION",
  accepted: "ACCEPTED",
  declined: "DECLINED",
  tentative: "TENTATIVE",
};

function line(text: string): ICAL.Property {
  return ICAL.Property.fromString(text);
}

function dateProperty(name: string, t: GDateTime, zone: string | undefined): ICAL.Property {
  if (t.date) return line(`${name};VALUE=DATE:${t.date.replace(/-/g, "")}`);
  const ms = Date.parse(t.dateTime ?? "");
  if (Number.isNaN(ms)) return line(`${name}:${t.dateTime ?? ""}`); // let the mapping report it
  const z = t.timeZone ?? zone;
  if (z && !isUtcZone(z) && isKnownZone(z)) return line(`${name};TZID=${z}:${icalLocal(wallTimeIn(ms, z))}`);
  return line(`${name}:${icalUtc(ms)}`);
}
