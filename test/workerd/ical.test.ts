import { describe, expect, it } from "vitest";
import { expandCalendar, patchEventIcs, reservationsFromIcs, reservationToIcs } from "../../calendar/ical/index.ts";
import { resolveConflicts } from "../../calendar/conflicts.ts";
import { fullReservationsFromIcs } from "../../calendar/ical/read.ts";
import { CASES, HAND_WORKED, handWorkedIcs, icsOf } from "../calendar/time/cases.ts";
import oracleExpected from "../calendar/time/oracle-expected.json";

/**
 * The mapping inside workerd (run: npx vitest run --config
 * test/vitest.workers.config.mts test/workerd/ical): ical.js, the Intl-backed
 * zones (bare IANA TZIDs, DST) and the iteration cap must behave exactly as
 * in Node. The Node config picks this file up too, which is fine: the same
 * assertions hold in both runtimes.
 */

const runtime = typeof navigator !== "undefined" && navigator.userAgent === "Cloudflare-Workers" ? "workerd" : "node";
const users = [{ id: "alice", email: "alice@example.org", unix: ["alice"], sshKeys: [], groups: [] }];
const ctx = { resource: "rk3588-1", timezone: "Europe/Berlin", users, now: new Date("2026-11-01T00:00:00Z") };

const weekly = [
  "BEGIN:VCALENDAR",
  "VERSION:2.0",
  "PRODID:-//test//EN",
  "BEGIN:VEVENT",
  "UID:weekly@example.org",
  "DTSTAMP:20261001T000000Z",
  "CREATED:20261001T000000Z",
  // Bare IANA TZID (RFC 7809): resolved through Intl, across the US DST change on Nov 1.
  "DTSTART;TZID=America/New_York:20261019T090000",
  "DTEND;TZID=America/New_York:20261019T103000",
  "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=8",
  "EXDATE;TZID=America/New_York:20261028T090000",
  "ORGANIZER:mailto:alice@example.org",
  "SUMMARY:soak test",
  "END:VEVENT",
  "BEGIN:VEVENT",
  "UID:weekly@example.org",
  "DTSTAMP:20261001T000000Z",
  "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=America/New_York:20261104T090000",
  "DTSTART;TZID=America/New_York:20261104T140000",
  "DTEND;TZID=America/New_York:20261104T150000",
  "SUMMARY:afternoons from now on",
  "END:VEVENT",
  "END:VCALENDAR",
  "",
].join("\r\n");

describe(`iCalendar mapping in ${runtime}`, () => {
  it("maps a recurring, zoned event with EXDATE and THISANDFUTURE", () => {
    const rs = reservationsFromIcs(weekly, ctx, { start: new Date("2026-10-01T00:00:00Z"), end: new Date("2026-12-01T00:00:00Z") }, "weekly.ics");
    expect(rs.map((r) => [r.start, r.end])).toEqual([
      ["2026-10-19T13:00:00.000Z", "2026-10-19T14:30:00.000Z"], // EDT
      ["2026-10-21T13:00:00.000Z", "2026-10-21T14:30:00.000Z"],
      ["2026-10-26T13:00:00.000Z", "2026-10-26T14:30:00.000Z"],
      ["2026-11-02T14:00:00.000Z", "2026-11-02T15:30:00.000Z"], // EST from Nov 1
      ["2026-11-04T19:00:00.000Z", "2026-11-04T20:00:00.000Z"], // THISANDFUTURE: 14:00 EST, one hour
      ["2026-11-09T19:00:00.000Z", "2026-11-09T20:00:00.000Z"],
      ["2026-11-11T19:00:00.000Z", "2026-11-11T20:00:00.000Z"],
    ]);
    expect(rs.every((r) => r.holder.id === "alice")).toBe(true);
    expect(rs[4]!.purpose).toBe("afternoons from now on");
    expect(rs[4]!.recurrenceId).toBe("2026-11-04T14:00:00.000Z");
  });

  it("writes, patches and resolves conflicts; a hostile rule is capped, not hung", () => {
    const mine = reservationToIcs({ uid: "api-1", holder: users[0]!, start: "2026-11-02T14:30:00Z", end: "2026-11-02T16:00:00Z", exclusive: true, purpose: "flash", created: "2026-11-01T00:00:00Z" }, ctx);
    const hostile = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:h\r\nDTSTART:19700101T000000Z\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    const { reservations, errors } = expandCalendar(
      [{ id: "weekly.ics", ics: weekly }, { id: "api-1.ics", ics: mine }, { id: "h.ics", ics: hostile }],
      ctx,
      { start: new Date("2026-11-02T00:00:00Z"), end: new Date("2026-11-03T00:00:00Z") },
    );
    expect(errors.map((e) => [e.objectId, e.code])).toEqual([["h.ics", "invalid-event"]]);
    const { losers } = resolveConflicts(reservations);
    expect([...losers.entries()]).toEqual([["api-1", ["weekly@example.org/2026-11-02T14:00:00.000Z"]]]);
    const marked = patchEventIcs(mine, { conflictWith: losers.get("api-1")! });
    expect(marked.replace(/\r\n[ \t]/g, "")).toContain("SUMMARY:[conflict] alice: flash");
  });

  // The table test/calendar/time/oracle.test.ts checks against python3-icalendar + zoneinfo
  // in Node; here the same answers must come out of workerd's Intl data.
  it("reads every DST, DURATION, cross-zone, floating and all-day case as the oracle does", () => {
    const expected = oracleExpected as Record<string, string[][]>;
    for (const c of CASES) {
      const rs = reservationsFromIcs(icsOf(c), { ...ctx, timezone: c.lab }, { start: new Date(c.window[0]), end: new Date(c.window[1]) });
      expect(rs.map((r) => [r.start, r.end]).sort((a, b) => a[0]!.localeCompare(b[0]!)), c.name).toEqual(expected[c.name]);
    }
    for (const h of HAND_WORKED) {
      const [r] = reservationsFromIcs(handWorkedIcs(h), { ...ctx, timezone: "UTC" }, { start: new Date("2000-01-01T00:00:00Z"), end: new Date("2030-01-01T00:00:00Z") });
      expect(r?.start, h.name).toBe(h.utc);
    }
  });

  // calendar/ical/fast-read.ts reads most objects from jCal, the rest go
  // through ical.js objects: both ways must agree here too (Node:
  // test/calendar/ical/fast-read.test.ts, on a larger corpus).
  it("the jCal fast path maps every case as the full ical.js path does", () => {
    const all = [weekly, ...CASES.map((c) => icsOf(c)), ...HAND_WORKED.map((h) => handWorkedIcs(h))];
    const w = { start: new Date("2000-01-01T00:00:00Z"), end: new Date("2030-01-01T00:00:00Z") };
    for (const ics of all) {
      for (const timezone of ["Europe/Berlin", "America/New_York"]) {
        const c = { ...ctx, timezone };
        expect(JSON.stringify(reservationsFromIcs(ics, c, w))).toBe(JSON.stringify(fullReservationsFromIcs(ics, c, w)));
      }
    }
  });

  it("a patched event in a repeated hour's second pass reads back as that instant", () => {
    const base = icsOf({ name: "p", lab: "America/New_York", window: ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"], events: [["DTSTART;TZID=America/New_York:20261020T090000", "DURATION:PT1H"]] });
    const patched = patchEventIcs(base, { start: "2026-11-01T06:30:00Z", end: "2026-11-01T07:30:00Z" }, undefined, { timezone: "America/New_York" });
    const [r] = reservationsFromIcs(patched, { ...ctx, timezone: "America/New_York" }, { start: new Date("2026-10-01T00:00:00Z"), end: new Date("2026-12-01T00:00:00Z") });
    expect([r?.start, r?.end]).toEqual(["2026-11-01T06:30:00.000Z", "2026-11-01T07:30:00.000Z"]);
  });
});
