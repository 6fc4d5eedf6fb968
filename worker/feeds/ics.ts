import ICAL from "ical.js";
import type { Reservation } from "../../calendar/model.ts";
import { PRODID } from "../../calendar/ical/index.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";
import { liveLine, type LiveUsage } from "../usage/live.ts";

/**
 * A read-only iCalendar feed (RFC 5545 + RFC 7986 NAME/REFRESH-INTERVAL) of
 * reservations, for subscribing in calendar apps. Conflicts are TENTATIVE with
 * a "[conflict]" summary and a line saying whom they lost to; the running
 * reservation carries the live usage line and X-LABHOG-USAGE.
 */
export interface FeedEvent {
  r: Reservation;
  resourceName: string;
  /** Live usage of the resource, for the reservation running now. */
  live?: LiveUsage | null;
}

export interface FeedOptions {
  name: string;
  /** Prefix summaries with the resource name (pool feeds). */
  withResource: boolean;
  statusUrl?: string;
  refreshMinutes: number;
}

const utc = (iso: string) => ICAL.Time.fromJSDate(new Date(iso), true);

function summaryOf(e: FeedEvent, o: FeedOptions): string {
  const r = e.r;
  const who = r.holder.id ?? (r.holder.raw || "unknown holder");
  let s = isUnbookedUse(r) ? `unbooked use by ${who}` : `${who}${r.purpose ? `: ${r.purpose}` : ""}`;
  if (!r.exclusive && !isUnbookedUse(r)) s += " (shared)";
  if (o.withResource) s = `${e.resourceName} · ${s}`;
  return r.state === "conflict" ? `[conflict] ${s}` : s;
}

function descriptionOf(e: FeedEvent): string {
  const r = e.r;
  const lines: string[] = [];
  const live = r.state === "active" ? e.live : undefined;
  if (live) lines.push(liveLine(live));
  if (r.state === "conflict") lines.push(`CONFLICT: overlaps ${r.conflictWith?.length ? r.conflictWith.map((w) => (w.startsWith(`${r.resource}:`) ? w : `${r.resource}:${w}`)).join(", ") : "another booking"}, which was made first; this one is not enforced.`);
  if (r.holder.id === null) lines.push(`Holder not recognised (${r.holder.problem ?? r.holder.raw}): nobody can use this booking.`);
  lines.push(`Resource: ${e.resourceName} (${r.resource})`);
  lines.push(`Holder: ${r.holder.id ?? r.holder.raw}`);
  if (r.purpose) lines.push(`Purpose: ${r.purpose}`);
  if (r.image) lines.push(`Image: ${r.image}`);
  if (r.mode) lines.push(`Mode: ${r.mode}`);
  lines.push(`Booked via ${r.source === "api" ? "labhog" : "the calendar"}; ${r.exclusive ? "exclusive" : "shared"}.`);
  return lines.join("\n");
}

export function feedIcs(events: FeedEvent[], o: FeedOptions): string {
  const cal = new ICAL.Component(["vcalendar", [], []]);
  cal.addPropertyWithValue("prodid", PRODID);
  cal.addPropertyWithValue("version", "2.0");
  cal.addPropertyWithValue("calscale", "GREGORIAN");
  cal.addPropertyWithValue("method", "PUBLISH");
  cal.addPropertyWithValue("name", o.name);
  cal.addPropertyWithValue("x-wr-calname", o.name);
  cal.addPropertyWithValue("refresh-interval", ICAL.Duration.fromSeconds(o.refreshMinutes * 60));
  cal.addPropertyWithValue("x-published-ttl", `PT${o.refreshMinutes}M`);
  for (const e of events) {
    const r = e.r;
    const ev = new ICAL.Component("vevent", cal);
    cal.addSubcomponent(ev);
    ev.addPropertyWithValue("uid", `${r.id}@${r.resource}.labhog`);
    // Stable across fetches (ETag); moves only when the event did.
    ev.addPropertyWithValue("dtstamp", utc(r.dtstamp ?? r.created ?? r.start));
    ev.addPropertyWithValue("dtstart", utc(r.start));
    ev.addPropertyWithValue("dtend", utc(r.end));
    ev.addPropertyWithValue("summary", summaryOf(e, o));
    ev.addPropertyWithValue("description", descriptionOf(e));
    ev.addPropertyWithValue("location", e.resourceName);
    ev.addPropertyWithValue("status", r.state === "conflict" ? "TENTATIVE" : "CONFIRMED");
    ev.addPropertyWithValue("transp", r.exclusive && !isUnbookedUse(r) ? "OPAQUE" : "TRANSPARENT");
    const cats = [r.state, ...(isUnbookedUse(r) ? ["unbooked-use"] : []), ...(r.exclusive ? [] : ["shared"])];
    const c = ev.addPropertyWithValue("categories", cats[0]!);
    c.setValues(cats);
    ev.addPropertyWithValue("x-labhog-state", r.state);
    ev.addPropertyWithValue("x-labhog-resource", r.resource);
    if (r.holder.id) ev.addPropertyWithValue("x-labhog-holder", r.holder.id);
    if (r.state === "active" && e.live) ev.addPropertyWithValue("x-labhog-usage", JSON.stringify(e.live));
    if (o.statusUrl) ev.addPropertyWithValue("url", `${o.statusUrl}#r-${r.resource}`);
  }
  return cal.toString() + "\r\n";
}
