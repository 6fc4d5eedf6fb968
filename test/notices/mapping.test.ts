import { describe, expect, it } from "vitest";
import { reservationsFromIcs } from "../../calendar/ical/index.ts";
import { noticeIcs } from "../../worker/ledger/notices.ts";
import { resolveConflicts } from "../../calendar/conflicts.ts";

/** The mapping never reads a notice event (X-LABHOG-KIND:notice) as a reservation; everything else in the calendar maps as before. */
const ctx = { resource: "host1", timezone: "Europe/Berlin", users: [{ id: "bob", email: "bob@example.com", unix: ["bob"], sshKeys: [], groups: [] }] } as never;
const window = { start: new Date("2026-12-01T00:00:00Z"), end: new Date("2026-12-03T00:00:00Z") };
const notice = { id: "n-0123", text: "kernel update, reboots at 14:00; \"quoted\", commas", until: "2026-12-01T18:00:00.000Z", by: "alice", createdAt: "2026-12-01T08:00:00.000Z" };

const booking = (uid: string, transp = "OPAQUE") =>
  ["BEGIN:VEVENT", `UID:${uid}`, "DTSTAMP:20261201T070000Z", "DTSTART:20261201T090000Z", "DTEND:20261201T110000Z", "SUMMARY:bob", "ORGANIZER:mailto:bob@example.com", `TRANSP:${transp}`, "END:VEVENT"].join("\r\n");

describe("notice events in the mapping", () => {
  it("labhog's notice event is transparent, marked, and yields no reservation", () => {
    const ics = noticeIcs("labhog-notice-n-0123-host1", notice, "host1");
    expect(ics).toContain("TRANSP:TRANSPARENT\r\n");
    expect(ics).toContain("X-LABHOG-KIND:notice\r\n");
    expect(ics).toContain("DTSTART:20261201T080000Z\r\n");
    expect(ics).toContain("DTEND:20261201T180000Z\r\n");
    expect(ics).toContain('SUMMARY:Notice: kernel update\\, reboots at 14:00\\; "quoted"\\, commas\r\n');
    expect(reservationsFromIcs(ics, ctx, window)).toEqual([]);
  });

  it("beside a booking in the same object, only the booking maps; a calendar app's capitalisation of the kind is still a notice", () => {
    const withBooking = noticeIcs("labhog-notice-n-0123-host1", notice, "host1").replace("END:VCALENDAR", `${booking("b-1")}\r\nEND:VCALENDAR`);
    const rs = reservationsFromIcs(withBooking, ctx, window);
    expect(rs.map((r) => r.uid)).toEqual(["b-1"]);
    expect(resolveConflicts(rs).losers.size).toBe(0);
    const shouted = noticeIcs("labhog-notice-n-0123-host1", notice, "host1").replace("X-LABHOG-KIND:notice", "X-LABHOG-KIND:NOTICE");
    expect(reservationsFromIcs(shouted, ctx, window)).toEqual([]);
  });

  it("a transparent event without the mark is still a (shared) reservation: the mark, not TRANSP, makes a notice", () => {
    const ics = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//x//y//EN", booking("shared-1", "TRANSPARENT"), "END:VCALENDAR", ""].join("\r\n");
    const rs = reservationsFromIcs(ics, ctx, window);
    expect(rs.map((r) => [r.uid, r.exclusive])).toEqual([["shared-1", false]]);
  });
});
