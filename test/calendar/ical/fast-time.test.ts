import ICAL from "ical.js";
import { describe, expect, it } from "vitest";
import { FAST_TIME, firstTimeValue, makeTime, utcDateTimeMs } from "../../../calendar/ical/fast-time.ts";
import { parseCalendar } from "../../../calendar/ical/parse.ts";

/**
 * calendar/ical/fast-time.ts decodes DATE/DATE-TIME values without ical.js's
 * generic Time constructor. Every value here is decoded both ways, from its
 * own freshly parsed object, and must come out the same: fields, zone
 * (object identity, as ical.js compares zones by it), instant, text form.
 */

const VTZ = ["BEGIN:VTIMEZONE", "TZID:Europe/Berlin", "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT", "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD", "END:VTIMEZONE"];

const LINES = [
  "DTSTART:20260301T080000Z",
  "DTSTART:20161231T235960Z", // a leap second: normalized to the next minute by both
  "DTSTART;TZID=Europe/Berlin:20260329T023000", // in-file zone, in the gap
  "DTSTART;TZID=America/New_York:20261101T013000", // IANA zone, repeated hour
  "DTSTART:20260310T090000", // floating
  "DTSTART;VALUE=DATE:20260325",
  "DTSTART;VALUE=DATE:20240229",
  "DTSTART;TZID=Asia/Kolkata:20260101T000000",
];

function decode(line: string, fast: boolean): ICAL.Time {
  const root = parseCalendar(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", ...VTZ, "BEGIN:VEVENT", "UID:x", line, "END:VEVENT", "END:VCALENDAR", ""].join("\r\n"));
  const prop = root.getFirstSubcomponent("vevent")!.getFirstProperty("dtstart")!;
  return (fast ? firstTimeValue(prop) : prop.getFirstValue()) as ICAL.Time;
}

describe("fast ICAL.Time values", () => {
  it("the self-check passed: this ical.js version gets the fast path", () => {
    expect(FAST_TIME).toBe(true);
  });

  it.each(LINES)("%s decodes exactly as ical.js decodes it", (line) => {
    const a = decode(line, true);
    const b = decode(line, false);
    expect(a).toBeInstanceOf(ICAL.Time);
    expect([a.year, a.month, a.day, a.hour, a.minute, a.second, a.isDate]).toEqual([b.year, b.month, b.day, b.hour, b.minute, b.second, b.isDate]);
    expect(a.zone?.tzid).toBe(b.zone?.tzid);
    expect(a.zone?.constructor).toBe(b.zone?.constructor);
    expect(a.toUnixTime()).toBe(b.toUnixTime());
    expect(a.toString()).toBe(b.toString());
  });

  it("keeps ical.js's cache: the property hands out the same value afterwards", () => {
    const root = parseCalendar(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", "BEGIN:VEVENT", "UID:x", "DTSTART:20260301T080000Z", "END:VEVENT", "END:VCALENDAR", ""].join("\r\n"));
    const prop = root.getFirstSubcomponent("vevent")!.getFirstProperty("dtstart")!;
    expect(prop.getFirstValue()).toBe(firstTimeValue(prop));
  });

  it("anything but a plain date or date-time is left to ical.js", () => {
    const root = parseCalendar(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", "BEGIN:VEVENT", "UID:x", "DTSTART:20260301T080000Z", "RDATE;VALUE=PERIOD:20260302T080000Z/PT1H", "END:VEVENT", "END:VCALENDAR", ""].join("\r\n"));
    expect(firstTimeValue(root.getFirstSubcomponent("vevent")!.getFirstProperty("rdate")!)).toBeInstanceOf(ICAL.Period);
  });

  it.each(LINES)("%s: the UTC instant read from the text is ical.js's, or left to ical.js", (line) => {
    const root = parseCalendar(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", ...VTZ, "BEGIN:VEVENT", "UID:x", line, "END:VEVENT", "END:VCALENDAR", ""].join("\r\n"));
    const prop = root.getFirstSubcomponent("vevent")!.getFirstProperty("dtstart")!;
    const fast = utcDateTimeMs(prop);
    const slow = (prop.getFirstValue() as ICAL.Time).toUnixTime() * 1000;
    // Only plain in-range UTC values are read from the text: the first line here.
    if (line === "DTSTART:20260301T080000Z") expect(fast).toBe(slow);
    else expect(fast).toBeUndefined();
  });

  it("makeTime is new ICAL.Time({...}, zone)", () => {
    const a = makeTime(2026, 2, 31, 25, 0, 0, false, ICAL.Timezone.utcTimezone);
    const b = new ICAL.Time({ year: 2026, month: 2, day: 31, hour: 25, minute: 0, second: 0, isDate: false }, ICAL.Timezone.utcTimezone);
    expect(a.toString()).toBe(b.toString()); // both roll over to 2026-03-04T01:00:00Z
    expect(a.toUnixTime()).toBe(b.toUnixTime());
  });
});
