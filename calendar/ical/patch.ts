import ICAL from "ical.js";
import { InvalidEventError, NotFoundError, ValidationError } from "../errors.ts";
import { IterationBudget } from "../recurrence/budget.ts";
import { expandSeries } from "../recurrence/expand.ts";
import { parseCalendar } from "./parse.ts";
import { CONFLICT_PREFIX, X, setText, stripConflictPrefix, text } from "./properties.ts";
import { labZone } from "./read.ts";
import { addDurationMs, instantMs, localize, rawTime, setTimeProperty, timeLike, utcTime } from "./times.ts";
import { usageText } from "./write.ts";
import type { IntlZone } from "./zones.ts";

export interface EventPatch {
  start?: string;
  end?: string;
  /** Marks the event as losing a conflict to these reservation ids; null clears the mark. */
  conflictWith?: string[] | null;
  /** Usage snapshot mirrored into X-LABHOG-USAGE; null removes it. */
  usage?: unknown;
  /** A one-line live status at the top of DESCRIPTION; null removes it. The user's own text stays below. */
  liveLine?: string | null;
  status?: "CANCELLED";
  summary?: string;
}

export interface PatchOptions {
  /** The lab's zone, needed to find occurrences of floating or all-day series (default UTC). */
  timezone?: string;
  maxIterations?: number;
  now?: Date;
}

/**
 * Applies a patch to a user's event and returns the new text; every property
 * the patch does not name stays as it was (unknown properties, alarms,
 * attachments, other overrides). With `recurrenceId` (the occurrence's
 * original start, ISO UTC, as in Reservation.recurrenceId) only that
 * occurrence changes: its RECURRENCE-ID override is updated, or created from
 * the series (or from the THISANDFUTURE override that shapes it).
 *
 * DTSTAMP and SEQUENCE move only for changes a person would call changes
 * (times, status, summary): marker and usage updates must not change which
 * event wins a conflict (DTSTAMP is the second tie-breaker).
 */
export function patchEventIcs(ics: string, patch: EventPatch, recurrenceId?: string, opts: PatchOptions = {}): string {
  const lab = labZone({ timezone: opts.timezone ?? "UTC" });
  const root = parseCalendar(ics);
  const events = root.getAllSubcomponents("vevent");
  if (events.length === 0) throw new InvalidEventError("calendar object has no VEVENT");
  const masters = events.filter((e) => !e.hasProperty("recurrence-id"));
  let target: ICAL.Component;
  if (recurrenceId === undefined) {
    target = masters[0] ?? events[0]!;
  } else {
    const ridMs = Date.parse(recurrenceId);
    if (!Number.isFinite(ridMs)) throw new ValidationError(`recurrenceId "${recurrenceId}" is not an ISO date-time`);
    const existing = events.find((e) => {
      const rid = rawTime(e, "recurrence-id");
      return rid !== undefined && instantMs(localize(rid, lab)) === ridMs;
    });
    target = existing ?? createOverride(root, masters[0], events, ridMs, lab, opts);
  }
  applyPatch(target, patch, lab, opts.now ?? new Date());
  return root.toString() + "\r\n";
}

function createOverride(root: ICAL.Component, master: ICAL.Component | undefined, events: ICAL.Component[], ridMs: number, lab: IntlZone, opts: PatchOptions): ICAL.Component {
  if (!master) throw new NotFoundError("no recurring series in this calendar object");
  const uid = text(master, "uid");
  const overrides = events.filter((e) => e !== master && e.hasProperty("recurrence-id") && text(e, "uid") === uid);
  const budget = new IterationBudget(opts.maxIterations);
  const { occurrences } = expandSeries(master, overrides, { window: { startMs: -8.64e15, endMs: ridMs + 1 }, lab, budget });
  const occ = occurrences.find((o) => o.recurrenceIdMs === ridMs);
  if (!occ) throw new NotFoundError(`the series has no occurrence at ${new Date(ridMs).toISOString()}`);

  const base = occ.component;
  const ov = new ICAL.Component(structuredClone(base.toJSON()) as unknown[], root);
  for (const name of ["rrule", "rdate", "exdate", "recurrence-id", "duration"]) ov.removeAllProperties(name);
  const dtstart = rawTime(master, "dtstart");
  const ridProp = new ICAL.Property("recurrence-id", ov);
  ov.addProperty(ridProp);
  setTimeProperty(ov, "recurrence-id", timeLike(ridMs, dtstart, lab));
  const like = rawTime(base, "dtstart") ?? dtstart;
  writeSpan(ov, occ.startMs, occ.endMs, like, lab);
  root.addSubcomponent(ov);
  return ov;
}

/** Writes DTSTART/DTEND in the event's own style (DTEND keeps its own zone when it had one); both must be dates or both date-times. */
function writeSpan(c: ICAL.Component, startMs: number, endMs: number, like: ICAL.Time | undefined, lab: IntlZone, likeEnd: ICAL.Time | undefined = like): void {
  let s = timeLike(startMs, like, lab);
  let e = timeLike(endMs, likeEnd, lab);
  if (s.isDate !== e.isDate) {
    s = utcTime(startMs);
    e = utcTime(endMs);
  }
  c.removeAllProperties("duration");
  setTimeProperty(c, "dtstart", s);
  setTimeProperty(c, "dtend", e);
}

function applyPatch(c: ICAL.Component, patch: EventPatch, lab: IntlZone, now: Date): void {
  let significant = false;
  if (patch.start !== undefined || patch.end !== undefined) {
    const curStart = rawTime(c, "dtstart");
    if (!curStart) throw new InvalidEventError("event has no DTSTART");
    const startMs = patch.start !== undefined ? Date.parse(patch.start) : instantMs(localize(curStart, lab));
    const endMs = patch.end !== undefined ? Date.parse(patch.end) : currentEndMs(c, lab);
    if (!Number.isFinite(startMs) || !Number.isFinite(endMs)) throw new ValidationError("start/end must be ISO date-times");
    if (endMs < startMs) throw new ValidationError("end is before start");
    writeSpan(c, startMs, endMs, curStart, lab, rawTime(c, "dtend") ?? curStart);
    significant = true;
  }
  if (patch.status !== undefined) {
    c.updatePropertyWithValue("status", patch.status);
    significant = true;
  }
  if (patch.summary !== undefined) {
    c.updatePropertyWithValue("summary", patch.summary.replace(/[\r\n]+/g, " "));
    significant = true;
  }
  if (patch.conflictWith !== undefined) {
    c.removeAllProperties(X.conflictWith);
    if (patch.conflictWith === null) {
      if (text(c, X.state)?.toLowerCase() === "conflict") c.removeAllProperties(X.state);
    } else {
      setText(c, X.state, "conflict");
      for (const id of patch.conflictWith) {
        const p = new ICAL.Property(X.conflictWith, c);
        p.resetType("text");
        p.setValue(id);
        c.addProperty(p);
      }
    }
  }
  // The [conflict] prefix follows the marker, whatever the summary is now.
  const summary = text(c, "summary") ?? "";
  const conflicted = text(c, X.state)?.toLowerCase() === "conflict";
  const bare = stripConflictPrefix(summary);
  const wanted = conflicted ? CONFLICT_PREFIX + bare : bare;
  if (wanted !== summary) c.updatePropertyWithValue("summary", wanted);

  if ("usage" in patch) {
    if (patch.usage === null || patch.usage === undefined) c.removeAllProperties(X.usage);
    else setText(c, X.usage, usageText(patch.usage));
  }
  if (patch.liveLine !== undefined) setLiveLine(c, patch.liveLine);

  // Keep the conflict order stable: an event that had no CREATED keeps its
  // old DTSTAMP as CREATED before DTSTAMP moves.
  if (!c.hasProperty("created")) {
    const stamp = rawTime(c, "dtstamp");
    if (stamp) setTimeProperty(c, "created", stamp.clone());
  }
  setTimeProperty(c, "last-modified", utcTime(now.getTime()));
  if (significant) {
    setTimeProperty(c, "dtstamp", utcTime(now.getTime()));
    const seq = Number(c.getFirstPropertyValue("sequence"));
    c.updatePropertyWithValue("sequence", Number.isInteger(seq) && seq >= 0 ? seq + 1 : 1);
  }
}

function currentEndMs(c: ICAL.Component, lab: IntlZone): number {
  const end = rawTime(c, "dtend");
  if (end) return instantMs(localize(end, lab));
  const start = localize(rawTime(c, "dtstart")!, lab);
  const dur = c.getFirstPropertyValue("duration");
  if (dur instanceof ICAL.Duration) return addDurationMs(start, dur);
  const e = start.clone();
  if (start.isDate) e.adjust(1, 0, 0, 0);
  return instantMs(e);
}

function setLiveLine(c: ICAL.Component, line: string | null): void {
  const prev = text(c, X.live);
  let desc = text(c, "description") ?? "";
  if (prev !== undefined && desc.startsWith(prev)) desc = desc.slice(prev.length).replace(/^\n\n?/, "");
  if (line === null) {
    c.removeAllProperties(X.live);
  } else {
    const one = line.replace(/[\r\n]+/g, " ").trim();
    setText(c, X.live, one);
    desc = desc ? `${one}\n\n${desc}` : one;
  }
  if (desc) c.updatePropertyWithValue("description", desc);
  else c.removeAllProperties("description");
}
