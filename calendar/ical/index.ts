/**
 * iCalendar ⇄ Reservation (design: "Calendar mapping"), on ical.js.
 *
 * Decisions, each shown by a test in test/calendar/ical or test/calendar/recurrence:
 * - Holder: X-LABHOG-HOLDER, else ORGANIZER, else the first ATTENDEE that is
 *   a known user, else the calendar owner (MappingContext.owner); otherwise
 *   holder.id is null with holder.problem — shown, never enforced as anyone.
 * - Shared vs exclusive: TRANSP when present (calendar apps edit it), else
 *   X-LABHOG-EXCLUSIVE, else exclusive.
 * - STATUS:CANCELLED (series, override or THISANDFUTURE override) removes
 *   the instances it covers.
 * - Missing DTEND: DURATION if present (weeks and days nominal, so P1D is
 *   the same wall time next day across DST; hours, minutes and seconds exact,
 *   so PT4H is four real hours); else RFC 5545 §3.6.1 — an all-day event lasts one day, a
 *   timed one has zero length (listed, never active, overlaps nothing).
 *   DTEND before DTSTART, a negative DURATION, DATE/DATE-TIME mixes are
 *   InvalidEventError.
 * - Wall times in a DST gap move forward by the gap; a repeated wall time is
 *   its first pass (RFC 5545 §3.3.5), for IANA zones and in-file VTIMEZONEs
 *   alike (ical.js reads VTIMEZONE gaps backwards and repeats as the second
 *   pass). DTEND may be in another zone than DTSTART; its exact length holds
 *   for every instance. Written times always read back as the same instant
 *   (a second pass is written in UTC). Checked against python3-icalendar +
 *   zoneinfo in test/calendar/time.
 * - Floating times and all-day dates are in the lab's zone. TZIDs resolve to
 *   the object's own VTIMEZONE (wherever in the object it is), else to an IANA
 *   zone from Intl (RFC 7809); anything else is InvalidEventError (ical.js
 *   alone would silently read it as floating).
 * - Recurrence: DTSTART always counts (as the RFC's own examples assume);
 *   RRULE/RDATE (incl. PERIOD)/EXDATE; overrides matched to instances by
 *   instant, not by text; RANGE=THISANDFUTURE shifts and re-describes later
 *   instances; an override for an instance the rules do not produce is kept
 *   unless EXDATE names it. Iteration starts at DTSTART and skips to the
 *   window, except for simple DAILY/WEEKLY rules without COUNT, which start
 *   at the period before the window (calendar/recurrence/simple-rule.ts);
 *   either way with a hard cap (MappingContext.maxIterations, default 20,000
 *   steps, counting ical.js's internal search steps too).
 * - Limits: objects over 1 MiB (maxObjectChars) are rejected unparsed; years
 *   outside 1900–2200 are InvalidEventError; VTIMEZONE rules must be yearly.
 * - X-LABHOG-STATE:conflict is output only: conflicts are recomputed by
 *   calendar/conflicts.ts every time; conflictMarkerOf() reads the mark to
 *   decide whether it needs (re)writing.
 * - Speed: the common shapes (simple DAILY/WEEKLY rules, EXDATE, overrides,
 *   IANA, in-file, floating and all-day times) are read straight from
 *   ICAL.parse's jCal arrays (fast-read.ts); everything else goes through
 *   ical.js's Component/Property/Time objects. Both give the same
 *   reservations and errors (test/calendar/ical/fast-read.test.ts).
 * - ical.js bugs worked around (calendar/recurrence/rule.ts): BYWEEKNO in
 *   YEARLY rules, year-scoped ordinal BYDAY (20MO), impossible dates rolled
 *   over (Feb 30 → Mar 1/2) and counted by COUNT, endless searches for rules
 *   that never match.
 */
export { reservationsFromIcs, expandCalendar, type MappingContext } from "./read.ts";
export { reservationToIcs, type NewReservation } from "./write.ts";
export { patchEventIcs, type EventPatch, type PatchOptions } from "./patch.ts";
export { conflictMarkerOf } from "./markers.ts";
export { resolveHolder } from "./holder.ts";
export { DEFAULT_MAX_OBJECT_CHARS } from "./parse.ts";
export { DEFAULT_MAX_ITERATIONS } from "../recurrence/budget.ts";
export { X as LABHOG_PROPERTIES, CONFLICT_PREFIX, PRODID } from "./properties.ts";
