import { describe, expect, it } from "vitest";
import { reservationsFromIcs } from "../../../calendar/ical/index.ts";

/**
 * EXDATE, RDATE and RECURRENCE-ID overrides (with RANGE=THISANDFUTURE).
 * Expected values are worked out by hand from RFC 5545 §3.8.5.1, §3.8.5.2
 * and §3.8.4.4 (whose example values are used where the RFC gives them).
 */

const ctx = { resource: "r", timezone: "Europe/Berlin", users: [] };
const all = { start: new Date("1990-01-01T00:00:00Z"), end: new Date("2030-01-01T00:00:00Z") };

function cal(...events: string[][]): string {
  return ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", ...events.flatMap((e) => ["BEGIN:VEVENT", "DTSTAMP:19960101T000000Z", ...e, "END:VEVENT"]), "END:VCALENDAR", ""].join("\r\n");
}
const starts = (ics: string, w = all) => reservationsFromIcs(ics, ctx, w, "t").map((r) => r.start);

describe("EXDATE", () => {
  it("removes the instances the RFC example names (§3.8.5.1)", () => {
    const ics = cal(["UID:ex", "DTSTART:19960401T010000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY;COUNT=5", "EXDATE:19960402T010000Z,19960403T010000Z,19960404T010000Z"]);
    expect(starts(ics)).toEqual(["1996-04-01T01:00:00.000Z", "1996-04-05T01:00:00.000Z"]);
  });

  it("matches by instant across zones and can remove DTSTART itself", () => {
    const ics = cal([
      "UID:ex2",
      "DTSTART;TZID=America/New_York:20260302T090000",
      "DTEND;TZID=America/New_York:20260302T100000",
      "RRULE:FREQ=DAILY;COUNT=4",
      // 14:00Z is 09:00 EST: the first instance, named in UTC.
      "EXDATE:20260302T140000Z",
      // a DATE exdate removes that day's instance of a timed series
      "EXDATE;VALUE=DATE:20260304",
    ]);
    expect(starts(ics)).toEqual(["2026-03-03T14:00:00.000Z", "2026-03-05T14:00:00.000Z"]);
  });
});

describe("RDATE", () => {
  it("adds periods with their own ends (§3.8.5.2 example values)", () => {
    const ics = cal(["UID:rd", "DTSTART:19960402T010000Z", "DTEND:19960402T020000Z", "RDATE;VALUE=PERIOD:19960403T020000Z/19960403T040000Z,19960404T010000Z/PT3H"]);
    const rs = reservationsFromIcs(ics, ctx, all, "t");
    expect(rs.map((r) => [r.start, r.end])).toEqual([
      ["1996-04-02T01:00:00.000Z", "1996-04-02T02:00:00.000Z"],
      ["1996-04-03T02:00:00.000Z", "1996-04-03T04:00:00.000Z"],
      ["1996-04-04T01:00:00.000Z", "1996-04-04T04:00:00.000Z"],
    ]);
    expect(rs.every((r) => r.id.startsWith("rd/"))).toBe(true);
  });

  it("adds zoned and date values, merged with the rule, duplicates once", () => {
    const ics = cal([
      "UID:rd2",
      "DTSTART;TZID=America/New_York:19970714T083000",
      "DTEND;TZID=America/New_York:19970714T093000",
      "RRULE:FREQ=WEEKLY;COUNT=2",
      "RDATE:19970714T123000Z", // = DTSTART (08:30 EDT): one instance
      "RDATE;TZID=America/New_York:19970716T083000",
    ]);
    expect(starts(ics)).toEqual(["1997-07-14T12:30:00.000Z", "1997-07-16T12:30:00.000Z", "1997-07-21T12:30:00.000Z"]);
  });
});

describe("RECURRENCE-ID overrides", () => {
  const master = ["UID:ov", "DTSTART;TZID=Europe/Berlin:20261102T090000", "DTEND;TZID=Europe/Berlin:20261102T100000", "RRULE:FREQ=DAILY;COUNT=6", "SUMMARY:series"];

  it("replaces one instance, matched by instant even when written in UTC", () => {
    const ics = cal(master, ["UID:ov", "RECURRENCE-ID:20261103T080000Z", "DTSTART;TZID=Europe/Berlin:20261103T140000", "DTEND;TZID=Europe/Berlin:20261103T160000", "SUMMARY:moved"]);
    const rs = reservationsFromIcs(ics, ctx, all, "t");
    expect(rs).toHaveLength(6);
    const moved = rs.find((r) => r.recurrenceId === "2026-11-03T08:00:00.000Z")!;
    expect([moved.start, moved.end, moved.purpose]).toEqual(["2026-11-03T13:00:00.000Z", "2026-11-03T15:00:00.000Z", "moved"]);
    expect(moved.id).toBe("ov/2026-11-03T08:00:00.000Z");
  });

  it("a cancelled override removes its instance", () => {
    const ics = cal(master, ["UID:ov", "RECURRENCE-ID;TZID=Europe/Berlin:20261104T090000", "DTSTART;TZID=Europe/Berlin:20261104T090000", "DTEND;TZID=Europe/Berlin:20261104T100000", "STATUS:CANCELLED"]);
    expect(starts(ics)).not.toContain("2026-11-04T08:00:00.000Z");
    expect(starts(ics)).toHaveLength(5);
  });

  it("RANGE=THISANDFUTURE shifts and re-describes this and every later instance (§3.8.4.4)", () => {
    const ics = cal(master, [
      "UID:ov",
      "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20261105T090000",
      "DTSTART;TZID=Europe/Berlin:20261105T110000",
      "DTEND;TZID=Europe/Berlin:20261105T113000",
      "TRANSP:TRANSPARENT",
      "SUMMARY:later, shorter, shared",
    ]);
    const rs = reservationsFromIcs(ics, ctx, all, "t");
    expect(rs.map((r) => [r.start, r.end, r.exclusive])).toEqual([
      ["2026-11-02T08:00:00.000Z", "2026-11-02T09:00:00.000Z", true],
      ["2026-11-03T08:00:00.000Z", "2026-11-03T09:00:00.000Z", true],
      ["2026-11-04T08:00:00.000Z", "2026-11-04T09:00:00.000Z", true],
      ["2026-11-05T10:00:00.000Z", "2026-11-05T10:30:00.000Z", false],
      ["2026-11-06T10:00:00.000Z", "2026-11-06T10:30:00.000Z", false],
      ["2026-11-07T10:00:00.000Z", "2026-11-07T10:30:00.000Z", false],
    ]);
    expect(rs.slice(3).map((r) => r.purpose)).toEqual(["later, shorter, shared", "later, shorter, shared", "later, shorter, shared"]);
    // Each keeps its own original start as recurrence id.
    expect(rs[4]!.recurrenceId).toBe("2026-11-06T08:00:00.000Z");
  });

  it("a later exact override beats THISANDFUTURE; a cancelled THISANDFUTURE ends the series", () => {
    const ics = cal(
      master,
      ["UID:ov", "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20261103T090000", "DTSTART;TZID=Europe/Berlin:20261103T100000", "DTEND;TZID=Europe/Berlin:20261103T110000"],
      ["UID:ov", "RECURRENCE-ID;TZID=Europe/Berlin:20261104T090000", "DTSTART;TZID=Europe/Berlin:20261104T150000", "DTEND;TZID=Europe/Berlin:20261104T160000"],
      ["UID:ov", "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20261106T090000", "DTSTART;TZID=Europe/Berlin:20261106T090000", "DTEND;TZID=Europe/Berlin:20261106T100000", "STATUS:CANCELLED"],
    );
    expect(starts(ics)).toEqual(["2026-11-02T08:00:00.000Z", "2026-11-03T09:00:00.000Z", "2026-11-04T14:00:00.000Z", "2026-11-05T09:00:00.000Z"]);
  });

  it("THISANDFUTURE that moves instances earlier brings them into a window from beyond it", () => {
    const ics = cal(master, ["UID:ov", "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20261104T090000", "DTSTART;TZID=Europe/Berlin:20261103T200000", "DTEND;TZID=Europe/Berlin:20261103T210000"]);
    // Window ends before the 6th's original start; the 6th moved to the 5th at 20:00.
    const w = { start: new Date("2026-11-05T12:00:00Z"), end: new Date("2026-11-06T00:00:00Z") };
    expect(starts(ics, w)).toEqual(["2026-11-05T19:00:00.000Z"]);
  });
});

describe("expansion window", () => {
  it("iterates from DTSTART (no re-basing): a weekly Tuesday series from 2019 still lands on Tuesdays", () => {
    const ics = cal(["UID:w", "DTSTART;TZID=Europe/Berlin:20190101T100000", "DTEND;TZID=Europe/Berlin:20190101T110000", "RRULE:FREQ=WEEKLY;INTERVAL=2"]);
    const w = { start: new Date("2026-11-01T00:00:00Z"), end: new Date("2026-12-01T00:00:00Z") };
    const got = starts(ics, w);
    // 2019-01-01 + 409 weeks is 2026-11-03: an odd week, so the series is on the 10th and the 24th.
    expect(got).toEqual(["2026-11-10T09:00:00.000Z", "2026-11-24T09:00:00.000Z"]);
    for (const s of got) expect(new Date(s).getUTCDay()).toBe(2);
  });

  it("includes an occurrence that began before the window and is still running", () => {
    const ics = cal(["UID:long", "DTSTART:20261101T000000Z", "DTEND:20261103T000000Z", "RRULE:FREQ=WEEKLY;COUNT=3"]);
    expect(starts(ics, { start: new Date("2026-11-02T00:00:00Z"), end: new Date("2026-11-02T01:00:00Z") })).toEqual(["2026-11-01T00:00:00.000Z"]);
  });
});

describe("ical.js bugs worked around", () => {
  it("BYWEEKNO in a YEARLY rule, with COUNT counted after the fix", () => {
    const ics = cal(["UID:wk", "DTSTART;TZID=America/New_York:19970512T090000", "RRULE:FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO;COUNT=3"]);
    expect(starts(ics)).toEqual(["1997-05-12T13:00:00.000Z", "1998-05-11T13:00:00.000Z", "1999-05-17T13:00:00.000Z"]);
  });

  it("impossible dates are skipped and not counted (ical.js rolls Feb 30 over to March)", () => {
    const ics = cal(["UID:f30", "DTSTART:20260130T100000Z", "RRULE:FREQ=YEARLY;BYMONTH=1,2;BYMONTHDAY=30;COUNT=3"]);
    expect(starts(ics)).toEqual(["2026-01-30T10:00:00.000Z", "2027-01-30T10:00:00.000Z", "2028-01-30T10:00:00.000Z"]);
  });

  it("a DTSTART that the rule does not produce counts as the first of COUNT (RFC 5545 §3.3.10)", () => {
    // 2026-11-03 is a Tuesday; the rule gives Mondays.
    const ics = cal(["UID:c", "DTSTART:20261103T100000Z", "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3"]);
    expect(starts(ics)).toEqual(["2026-11-03T10:00:00.000Z", "2026-11-09T10:00:00.000Z", "2026-11-16T10:00:00.000Z"]);
  });
});
