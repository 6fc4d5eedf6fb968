import ICAL from "ical.js";
import { ValidationError } from "../errors.ts";
import type { Reservation, ReservationState, User } from "../model.ts";
import { CONFLICT_PREFIX, MAX_USAGE_CHARS, PRODID, X, setText } from "./properties.ts";
import type { MappingContext } from "./read.ts";
import { setTimeProperty, timeLike, utcTime } from "./times.ts";
import { vtimezoneFor } from "./vtimezone.ts";
import { intlZone } from "./zones.ts";

/** A reservation to write: the model's fields, with the holder as the full user (for ORGANIZER/ATTENDEE). `created` defaults to now and is kept stable on rewrites: it decides conflicts. */
export type NewReservation = Pick<Reservation, "uid" | "start" | "end" | "exclusive" | "purpose" | "image" | "mode" | "leaseTtl" | "created" | "usage"> & {
  holder: User;
  state?: ReservationState;
  /** A recurring booking: written in the lab's zone (TZID + VTIMEZONE) so every occurrence keeps its wall-clock time across DST. */
  series?: SeriesWrite;
};

export interface SeriesWrite {
  /** The RRULE value, e.g. `FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270301T225959Z` (UNTIL in UTC, RFC 5545 §3.3.10). */
  rrule: string;
  /** Occurrence starts (ms) left out of the series, one EXDATE each. */
  exdatesMs?: number[];
  /** Last occurrence's end (ms): how far the VTIMEZONE must reach. */
  lastEndMs: number;
}

/**
 * One VCALENDAR with one VEVENT for a reservation made through labhog.
 * Times are written in UTC (exact, and every calendar app shows them in the
 * viewer's zone). ORGANIZER and ATTENDEE carry SCHEDULE-AGENT=CLIENT so a
 * CalDAV server with RFC 6638 scheduling does not e-mail the holder an
 * invitation for their own booking.
 */
export function reservationToIcs(r: NewReservation, ctx: MappingContext): string {
  const startMs = Date.parse(r.start);
  const endMs = Date.parse(r.end);
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs)) throw new ValidationError("reservation start/end must be ISO date-times", { path: "start" });
  if (endMs < startMs) throw new ValidationError("reservation ends before it starts", { path: "end" });
  if (!r.uid || /[\r\n]/.test(r.uid)) throw new ValidationError("reservation uid must be one non-empty line", { path: "uid" });
  const now = Date.now();
  const created = r.created === undefined ? now : Date.parse(r.created);
  if (!Number.isFinite(created)) throw new ValidationError("created must be an ISO date-time", { path: "created" });

  const cal = new ICAL.Component(["vcalendar", [], []]);
  cal.addPropertyWithValue("prodid", PRODID);
  cal.addPropertyWithValue("version", "2.0");
  cal.addPropertyWithValue("calscale", "GREGORIAN");
  if (r.series) cal.addSubcomponent(vtimezoneFor(zoneOf(ctx.timezone).tzid, startMs, r.series.lastEndMs));
  const ev = new ICAL.Component("vevent", cal);
  cal.addSubcomponent(ev);

  ev.addPropertyWithValue("uid", r.uid);
  setTimeProperty(ev, "dtstamp", utcTime(now));
  setTimeProperty(ev, "created", utcTime(created));
  if (r.series) writeSeries(ev, startMs, endMs, r.series, ctx.timezone);
  else {
    setTimeProperty(ev, "dtstart", utcTime(startMs));
    setTimeProperty(ev, "dtend", utcTime(endMs));
  }
  const purpose = oneLine(r.purpose);
  const summary = purpose ? `${r.holder.id}: ${purpose}` : r.holder.id;
  ev.addPropertyWithValue("summary", r.state === "conflict" ? CONFLICT_PREFIX + summary : summary);
  ev.addPropertyWithValue("transp", r.exclusive ? "OPAQUE" : "TRANSPARENT");
  ev.addPropertyWithValue("sequence", 0);

  const mailto = `mailto:${r.holder.email}`;
  const org = ev.addPropertyWithValue("organizer", mailto);
  if (r.holder.name) org.setParameter("cn", oneLine(r.holder.name));
  org.setParameter("schedule-agent", "CLIENT");
  const att = ev.addPropertyWithValue("attendee", mailto);
  if (r.holder.name) att.setParameter("cn", oneLine(r.holder.name));
  att.setParameter("partstat", "ACCEPTED");
  att.setParameter("role", "REQ-PARTICIPANT");
  att.setParameter("schedule-agent", "CLIENT");

  setText(ev, X.holder, r.holder.id);
  setText(ev, X.exclusive, r.exclusive ? "TRUE" : "FALSE");
  if (r.image !== undefined) setText(ev, X.image, r.image);
  if (r.mode !== undefined) setText(ev, X.mode, r.mode);
  if (r.state !== undefined) setText(ev, X.state, r.state);
  if (r.leaseTtl !== undefined) {
    if (!Number.isInteger(r.leaseTtl) || r.leaseTtl <= 0) throw new ValidationError("leaseTtl must be a positive integer", { path: "leaseTtl" });
    setText(ev, X.leaseTtl, String(r.leaseTtl));
  }
  if (r.usage !== undefined) setText(ev, X.usage, usageText(r.usage));
  return cal.toString() + "\r\n";
}

function zoneOf(tzid: string) {
  const zone = intlZone(tzid);
  if (!zone) throw new ValidationError(`the lab's time zone "${tzid}" is not an IANA zone`, { path: "timezone" });
  return zone;
}

/**
 * DTSTART/DTEND as wall times of the lab's zone, the RRULE and one EXDATE per
 * left-out occurrence, as calendar apps write a series: "every Tuesday 09:00"
 * stays 09:00 after the clocks change. A start that has no wall time of its
 * own (the repeated hour's second pass) would drift: refused.
 */
function writeSeries(ev: ICAL.Component, startMs: number, endMs: number, series: SeriesWrite, tzid: string): void {
  const zone = zoneOf(tzid);
  const like = ICAL.Time.fromData({ year: 2000, month: 1, day: 1, hour: 0, minute: 0, second: 0, isDate: false }, zone);
  const s = timeLike(startMs, like, zone);
  const e = timeLike(endMs, like, zone);
  if (s.zone !== zone || e.zone !== zone) throw new ValidationError(`a series can't start or end at ${new Date(s.zone !== zone ? startMs : endMs).toISOString()}: that wall time of ${tzid} occurs twice`, { path: "start" });
  setTimeProperty(ev, "dtstart", s);
  setTimeProperty(ev, "dtend", e);
  let rule: ICAL.Recur;
  try {
    rule = ICAL.Recur.fromString(series.rrule);
  } catch (err) {
    throw new ValidationError(`not a valid RRULE: ${(err as Error).message}`, { path: "repeat" });
  }
  ev.addPropertyWithValue("rrule", rule);
  for (const ms of [...new Set(series.exdatesMs ?? [])].sort((a, b) => a - b)) {
    const x = timeLike(ms, like, zone);
    const p = new ICAL.Property("exdate", ev);
    ev.addProperty(p);
    p.setParameter("tzid", tzid);
    p.setValue(x);
    if (x.zone !== zone) p.removeParameter("tzid");
  }
}

export function usageText(usage: unknown): string {
  const s = JSON.stringify(usage);
  if (s === undefined) throw new ValidationError("usage is not JSON-serializable", { path: "usage" });
  if (s.length > MAX_USAGE_CHARS) throw new ValidationError(`usage snapshot is ${s.length} characters, more than ${MAX_USAGE_CHARS}`, { path: "usage" });
  return s;
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ").trim();
}
