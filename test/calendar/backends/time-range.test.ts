import { describe, expect, it } from "vitest";
import { overlapsWindow, spanOf } from "../../../calendar/backends/time-range.ts";
import { MemoryBackend } from "../../../calendar/backends/memory.ts";
import { expandCalendar } from "../../../calendar/ical/index.ts";
import { InvalidEventError } from "../../../calendar/errors.ts";

/**
 * The listing filter walks series with the mapping's own expansion and its
 * iteration budget. Before that, ical.js's bare iterator looped forever on a
 * rule that never matches: these tests would not finish.
 */

const cal = (uid: string, lines: string[]) =>
  ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", "BEGIN:VEVENT", `UID:${uid}`, "DTSTAMP:20260101T000000Z", ...lines, "END:VEVENT", "END:VCALENDAR", ""].join("\r\n");

// 2026-01-06 is a Tuesday: every 7th day from it is a Tuesday, never a Monday.
const never = cal("never", ["DTSTART:20260106T100000Z", "DTEND:20260106T110000Z", "RRULE:FREQ=DAILY;INTERVAL=7;BYDAY=MO"]);
const neverBounded = cal("never-bounded", ["DTSTART:20260106T100000Z", "DTEND:20260106T110000Z", "RRULE:FREQ=DAILY;INTERVAL=7;BYDAY=MO;COUNT=5"]);
const weekly = cal("weekly", ["DTSTART:20260106T100000Z", "DTEND:20260106T110000Z", "RRULE:FREQ=WEEKLY;COUNT=10"]);
const window = { start: new Date("2026-02-01T00:00:00Z"), end: new Date("2026-02-08T00:00:00Z") };

describe("time-range filter on a rule that never matches", () => {
  it("FREQ=DAILY;INTERVAL=7;BYDAY=MO from a Tuesday ends in InvalidEventError naming the object", () => {
    let err: unknown;
    try {
      overlapsWindow(never, window, "never.ics");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidEventError);
    expect((err as InvalidEventError).objectId).toBe("never.ics");
    expect((err as InvalidEventError).message).toMatch(/iterations|no instance/);
  });

  it("a bounded such rule is walked to the horizon within the budget: only DTSTART counts", () => {
    expect(spanOf(neverBounded)).toEqual({ start: Date.UTC(2026, 0, 6, 10), end: Date.UTC(2026, 0, 6, 11), recurring: true });
    expect(spanOf(weekly)).toEqual({ start: Date.UTC(2026, 0, 6, 10), end: Date.UTC(2026, 2, 10, 11), recurring: true });
  });

  it("ordinary series still filter exactly", () => {
    expect(overlapsWindow(weekly, window)).toBe(true); // Feb 3
    expect(overlapsWindow(weekly, { start: new Date("2026-03-11T00:00:00Z"), end: new Date("2026-04-01T00:00:00Z") })).toBe(false);
  });

  it("the memory backend lists the others as usual and the bad one for the mapping to report", async () => {
    const b = new MemoryBackend();
    await b.create("never", never);
    await b.create("never-bounded", neverBounded);
    await b.create("weekly", weekly);
    const listed = await b.list(window);
    expect(listed.map((o) => o.id).sort()).toEqual(["never", "weekly"]);
    const users = [{ id: "alice", email: "alice@example.org", unix: ["alice"], sshKeys: [], groups: [] }];
    const { reservations, errors } = expandCalendar(listed, { resource: "r", timezone: "UTC", users, owner: "alice" }, window);
    expect(reservations.map((r) => [r.uid, r.start])).toEqual([["weekly", "2026-02-03T10:00:00.000Z"]]);
    expect(errors.map((e) => [e.code, e.objectId])).toEqual([["invalid-event", "never"]]);
  });
});
