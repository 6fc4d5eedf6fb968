/**
 * Tricky event times: DST gaps and repeated hours, DURATION's nominal and
 * exact parts, DTEND in another zone, floating and all-day times in the lab's
 * zone, series crossing DST, in-file VTIMEZONEs with Outlook-style names.
 *
 * Each case's expected occurrences live in oracle-expected.json, produced by
 * ical-oracle.py (python3-icalendar + zoneinfo + dateutil, none of it
 * labhog's). The Node test re-runs the oracle and checks it still says the
 * same, then checks labhog against it; the workerd test checks labhog against
 * the same file (python cannot run there).
 */

export interface TimeCase {
  name: string;
  lab: string;
  window: [string, string];
  /** VEVENT lines (without BEGIN/END); several arrays = several VEVENTs. */
  events: string[][];
  /** In-file VTIMEZONE names → the IANA zone the oracle reads them as. */
  aliases?: Record<string, string>;
  vtimezones?: string[];
}

const WINDOW_2026: [string, string] = ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"];

/** Outlook's names, real rules (EU since 1996, US since 2007, Lord Howe's 30-minute shift). */
export const VTIMEZONES = {
  "W. Europe Standard Time": [
    "BEGIN:VTIMEZONE", "TZID:W. Europe Standard Time",
    "BEGIN:STANDARD", "DTSTART:16010101T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10", "END:STANDARD",
    "BEGIN:DAYLIGHT", "DTSTART:16010101T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", "END:DAYLIGHT",
    "END:VTIMEZONE",
  ],
  "Eastern Standard Time": [
    "BEGIN:VTIMEZONE", "TZID:Eastern Standard Time",
    "BEGIN:STANDARD", "DTSTART:16010101T020000", "TZOFFSETFROM:-0400", "TZOFFSETTO:-0500", "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11", "END:STANDARD",
    "BEGIN:DAYLIGHT", "DTSTART:16010101T020000", "TZOFFSETFROM:-0500", "TZOFFSETTO:-0400", "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3", "END:DAYLIGHT",
    "END:VTIMEZONE",
  ],
  "Lord Howe Standard Time": [
    "BEGIN:VTIMEZONE", "TZID:Lord Howe Standard Time",
    "BEGIN:STANDARD", "DTSTART:16010101T020000", "TZOFFSETFROM:+1100", "TZOFFSETTO:+1030", "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4", "END:STANDARD",
    "BEGIN:DAYLIGHT", "DTSTART:16010101T020000", "TZOFFSETFROM:+1030", "TZOFFSETTO:+1100", "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=10", "END:DAYLIGHT",
    "END:VTIMEZONE",
  ],
} as const;

const ALIASES = { "W. Europe Standard Time": "Europe/Berlin", "Eastern Standard Time": "America/New_York", "Lord Howe Standard Time": "Australia/Lord_Howe" };

const one = (name: string, lines: string[], lab = "Europe/Berlin", window = WINDOW_2026): TimeCase => ({ name, lab, window, events: [lines] });
const inFile = (name: string, tz: keyof typeof VTIMEZONES, lines: string[], lab = "Europe/Berlin"): TimeCase => ({
  name, lab, window: WINDOW_2026, events: [lines], aliases: ALIASES, vtimezones: [...VTIMEZONES[tz]],
});

// 2026: EU clocks change Mar 29 and Oct 25 (01:00 UTC); US Mar 8 and Nov 1 (02:00 local);
// Lord Howe Apr 5 (02:00 → 01:30) and Oct 4 (02:00 → 02:30).
export const CASES: TimeCase[] = [
  // DURATION: the time part is exact, days are nominal.
  one("berlin PT4H from just before the spring gap lasts 4 real hours", ["DTSTART;TZID=Europe/Berlin:20260329T013000", "DURATION:PT4H"]),
  one("berlin PT4H from just before the fall repeat lasts 4 real hours", ["DTSTART;TZID=Europe/Berlin:20261025T013000", "DURATION:PT4H"]),
  one("berlin P1D over spring is the same wall time next day (23 h)", ["DTSTART;TZID=Europe/Berlin:20260328T090000", "DURATION:P1D"]),
  one("berlin PT24H over spring is 24 real hours", ["DTSTART;TZID=Europe/Berlin:20260328T090000", "DURATION:PT24H"]),
  one("berlin P1DT2H over fall: a day on the wall clock, then 2 exact hours", ["DTSTART;TZID=Europe/Berlin:20261024T233000", "DURATION:P1DT2H"]),
  one("berlin P1W over spring", ["DTSTART;TZID=Europe/Berlin:20260325T100000", "DURATION:P1W"]),
  one("new york P1D landing in the spring gap moves forward", ["DTSTART;TZID=America/New_York:20260307T023000", "DURATION:P1D"]),
  one("UTC P1D is 24 hours", ["DTSTART:20260328T090000Z", "DURATION:P1D"]),
  one("lord howe PT1H over the 30-minute fall-back", ["DTSTART;TZID=Australia/Lord_Howe:20260405T013000", "DURATION:PT1H"]),
  one("lord howe P1D over the 30-minute spring gap", ["DTSTART;TZID=Australia/Lord_Howe:20261003T120000", "DURATION:P1D"]),
  // Nonexistent and repeated wall times (RFC 5545 §3.3.5).
  one("new york wall time in the spring gap", ["DTSTART;TZID=America/New_York:20260308T023000", "DTEND;TZID=America/New_York:20260308T043000"]),
  one("new york repeated hour is the first pass", ["DTSTART;TZID=America/New_York:20261101T013000", "DTEND;TZID=America/New_York:20261101T020000"]),
  one("berlin start and end both in the spring gap move forward together", ["DTSTART;TZID=Europe/Berlin:20260329T021500", "DTEND;TZID=Europe/Berlin:20260329T024500"]),
  one("lord howe wall time in the 30-minute gap", ["DTSTART;TZID=Australia/Lord_Howe:20261004T021500", "DTEND;TZID=Australia/Lord_Howe:20261004T030000"]),
  one("lord howe repeated half hour is the first pass", ["DTSTART;TZID=Australia/Lord_Howe:20260405T014500", "DTEND;TZID=Australia/Lord_Howe:20260405T020000"]),
  // DTEND in another zone than DTSTART.
  one("DTEND in another zone", ["DTSTART;TZID=Europe/Berlin:20261024T200000", "DTEND;TZID=America/New_York:20261024T180000"]),
  one("DTEND in UTC, DTSTART in a repeated hour", ["DTSTART;TZID=Europe/Berlin:20261025T023000", "DTEND:20261025T030000Z"]),
  one("DTEND in Lord Howe, DTSTART in New York", ["DTSTART;TZID=America/New_York:20260404T090000", "DTEND;TZID=Australia/Lord_Howe:20260405T030000"]),
  // Floating and all-day: the lab's zone.
  one("floating time in the lab's spring gap", ["DTSTART:20260329T023000", "DTEND:20260329T040000"]),
  one("floating time in the lab's repeated hour (New York lab)", ["DTSTART:20261101T013000", "DTEND:20261101T030000"], "America/New_York"),
  one("all-day on the lab's spring day lasts 23 hours", ["DTSTART;VALUE=DATE:20260329", "DTEND;VALUE=DATE:20260330"]),
  one("all-day without DTEND on New York's fall day lasts 25 hours", ["DTSTART;VALUE=DATE:20261101"], "America/New_York"),
  one("all-day P2D over Lord Howe's gap", ["DTSTART;VALUE=DATE:20261003", "DURATION:P2D"], "Australia/Lord_Howe"),
  // Series crossing DST.
  one("daily 02:30 series through the Berlin gap", ["DTSTART;TZID=Europe/Berlin:20260327T023000", "DURATION:PT1H", "RRULE:FREQ=DAILY;COUNT=4"]),
  one("weekly 01:30 series through New York's repeated hour keeps an exact DTEND length", ["DTSTART;TZID=America/New_York:20261025T013000", "DTEND;TZID=America/New_York:20261025T023000", "RRULE:FREQ=WEEKLY;COUNT=3"]),
  one("daily P1D series over spring", ["DTSTART;TZID=Europe/Berlin:20260327T220000", "DURATION:P1D", "RRULE:FREQ=DAILY;COUNT=4"]),
  one("daily PT24H series over spring", ["DTSTART;TZID=Europe/Berlin:20260327T220000", "DURATION:PT24H", "RRULE:FREQ=DAILY;COUNT=4"]),
  one("floating weekly series over the lab's fall change", ["DTSTART:20261018T090000", "DTEND:20261018T100000", "RRULE:FREQ=WEEKLY;COUNT=3"]),
  one("lord howe daily 02:10 through the 30-minute gap", ["DTSTART;TZID=Australia/Lord_Howe:20261002T021000", "DURATION:PT30M", "RRULE:FREQ=DAILY;COUNT=4"]),
  // The same through in-file VTIMEZONEs (ical.js would read these wrong by itself).
  inFile("in-file Berlin zone: spring gap", "W. Europe Standard Time", ["DTSTART;TZID=W. Europe Standard Time:20260329T023000", "DTEND;TZID=W. Europe Standard Time:20260329T040000"]),
  inFile("in-file Berlin zone: repeated hour", "W. Europe Standard Time", ["DTSTART;TZID=W. Europe Standard Time:20261025T023000", "DURATION:PT1H"]),
  inFile("in-file New York zone: the RFC's own examples as a series", "Eastern Standard Time", ["DTSTART;TZID=Eastern Standard Time:20260301T023000", "DURATION:PT1H", "RRULE:FREQ=WEEKLY;COUNT=2"]),
  inFile("in-file New York zone: repeated hour, P1D", "Eastern Standard Time", ["DTSTART;TZID=Eastern Standard Time:20261031T013000", "DURATION:P1D"]),
  inFile("in-file Lord Howe zone: a gap time is the wall time 30 minutes later", "Lord Howe Standard Time", ["DTSTART;TZID=Lord Howe Standard Time:20261004T021500", "DTEND;TZID=Lord Howe Standard Time:20261004T024500"]),
  inFile("in-file Lord Howe zone: repeated half hour", "Lord Howe Standard Time", ["DTSTART;TZID=Lord Howe Standard Time:20260405T014500", "DURATION:PT30M"]),
];

export function icsOf(c: TimeCase): string {
  const lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//labhog tests//EN", ...(c.vtimezones ?? [])];
  c.events.forEach((ev, i) => lines.push("BEGIN:VEVENT", `UID:case-${i}@example.org`, "DTSTAMP:20260101T000000Z", ...ev, "END:VEVENT"));
  lines.push("END:VCALENDAR", "");
  return lines.join("\r\n");
}

/**
 * RFC 5545 §3.3.5's own examples, worked by hand (the oracle is checked against these too):
 * "TZID=America/New_York:20071104T013000 indicates November 4, 2007 at 1:30 A.M. EDT (UTC-04:00)";
 * "TZID=America/New_York:20070311T023000 indicates March 11, 2007 at 3:30 A.M. EDT (UTC-04:00)".
 * Lord Howe worked the same way: 02:15 in its 30-minute gap is read with the
 * offset before the gap (+10:30), 15:45 UTC = 02:45 +11:00; 01:45 on the fall
 * day first passes at +11:00, 14:45 UTC.
 */
export const HAND_WORKED: Array<{ name: string; tzid: string; wall: string; vtimezone?: keyof typeof VTIMEZONES; utc: string }> = [
  { name: "RFC: New York repeated hour", tzid: "America/New_York", wall: "20071104T013000", utc: "2007-11-04T05:30:00.000Z" },
  { name: "RFC: New York spring gap", tzid: "America/New_York", wall: "20070311T023000", utc: "2007-03-11T07:30:00.000Z" },
  { name: "RFC: New York repeated hour, in-file zone", tzid: "Eastern Standard Time", vtimezone: "Eastern Standard Time", wall: "20071104T013000", utc: "2007-11-04T05:30:00.000Z" },
  { name: "RFC: New York spring gap, in-file zone", tzid: "Eastern Standard Time", vtimezone: "Eastern Standard Time", wall: "20070311T023000", utc: "2007-03-11T07:30:00.000Z" },
  { name: "Lord Howe gap", tzid: "Australia/Lord_Howe", wall: "20261004T021500", utc: "2026-10-03T15:45:00.000Z" },
  { name: "Lord Howe repeat", tzid: "Australia/Lord_Howe", wall: "20260405T014500", utc: "2026-04-04T14:45:00.000Z" },
  { name: "Lord Howe gap, in-file zone", tzid: "Lord Howe Standard Time", vtimezone: "Lord Howe Standard Time", wall: "20261004T021500", utc: "2026-10-03T15:45:00.000Z" },
  { name: "Lord Howe repeat, in-file zone", tzid: "Lord Howe Standard Time", vtimezone: "Lord Howe Standard Time", wall: "20260405T014500", utc: "2026-04-04T14:45:00.000Z" },
];

export function handWorkedIcs(h: (typeof HAND_WORKED)[number]): string {
  return icsOf({ name: h.name, lab: "UTC", window: WINDOW_2026, events: [[`DTSTART;TZID=${h.tzid}:${h.wall}`, "DURATION:PT1H"]], vtimezones: h.vtimezone ? [...VTIMEZONES[h.vtimezone]] : [] });
}
