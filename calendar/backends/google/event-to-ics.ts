import ICAL from "ical.js";
import type { calendar_v3 } from "@googleapis/calendar";
import { isLabhogProperty, rawValueForIcs } from "./labhog-properties.ts";
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
  const cal = new ICAL.Component(["vcalendar", [], []]);
  cal.addPropertyWithValue("version", "2.0");
  cal.addPropertyWithValue("prodid", "-//labhog//google backend//EN");
  cal.addSubcomponent(eventToVevent(ev));
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

  if (ev.organizer?.email) {
    const p = new ICAL.Property("organizer");
    p.setValue(`mailto:${ev.organizer.email}`);
    if (ev.organizer.displayName) p.setParameter("cn", ev.organizer.displayName);
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
    ve.addProperty(line(`${name.toUpperCase()}:${rawValueForIcs(value)}`));
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
