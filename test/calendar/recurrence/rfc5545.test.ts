import { describe, expect, it } from "vitest";
import { reservationsFromIcs } from "../../../calendar/ical/index.ts";
import { loadRfcCases } from "./rfc-examples.ts";

/**
 * Every RRULE example of RFC 5545 §3.8.5.3 (America/New_York, given as a bare
 * IANA TZID as RFC 7809 allows): the occurrences labhog expands must be
 * exactly the dates the RFC lists, at the UTC instants its EDT/EST labels
 * imply. The expectations are read from the RFC's own text in the fixture.
 */

const cases = loadRfcCases();
const ctx = { resource: "r", timezone: "Europe/Berlin", users: [], maxIterations: 100_000 };

/**
 * One listing in the RFC contradicts its own rule: "Every 3 hours from 9:00 AM
 * to 5:00 PM" says UNTIL=19970902T170000Z (1 PM EDT) yet lists 15:00 EDT
 * (19:00Z). UNTIL bounds the set inclusively (§3.3.10), so that instance
 * cannot exist; the rest of the listing must match.
 */
const ERRATA: Record<string, { drop: string; until: string }> = {
  "Every 3 hours from 9:00 AM to 5:00 PM on a specific day": { drop: "1997-09-02T19:00:00.000Z", until: "1997-09-02T17:00:00.000Z" },
};

function ics(lines: string[]): string {
  return ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//rfc5545//EN", "BEGIN:VEVENT", "UID:rfc-example", "DTSTAMP:19970901T000000Z", ...lines, "SUMMARY:example", "END:VEVENT", "END:VCALENDAR", ""].join("\r\n");
}

describe("RFC 5545 §3.8.5.3 recurrence examples", () => {
  it("the fixture holds the RFC's examples", () => {
    expect(cases.length).toBeGreaterThanOrEqual(35);
    for (const c of cases) expect(c.expected.length, c.title).toBeGreaterThan(0);
    // Spot-check the reader against two examples read by eye from the RFC.
    const daily = cases.find((c) => c.title === "Daily for 10 occurrences")!;
    expect(daily.expected[0]).toBe("1997-09-02T13:00:00.000Z");
    expect(daily.expected).toHaveLength(10);
    const until = cases.find((c) => c.title === "Daily until December 24, 1997")!;
    expect(until.expected).toHaveLength(113);
    expect(until.expected.at(-1)).toBe("1997-12-23T14:00:00.000Z");
  });

  for (const c of cases) {
    it(c.title, () => {
      const last = Date.parse(c.expected.at(-1)!);
      // Endless series: everything up to the last listed date. Finite ones: far beyond, so extra instances show up.
      const window = { start: new Date("1996-01-01T00:00:00Z"), end: c.truncated ? new Date(last + 1) : new Date("2012-01-01T00:00:00Z") };
      const got = reservationsFromIcs(ics(c.lines), ctx, window, "rfc").map((r) => r.start);
      const erratum = ERRATA[c.title];
      if (erratum) {
        expect(c.expected).toContain(erratum.drop);
        expect(Date.parse(erratum.drop)).toBeGreaterThan(Date.parse(erratum.until));
      }
      expect(got).toEqual(c.expected.filter((e) => e !== erratum?.drop));
    });
  }
});
