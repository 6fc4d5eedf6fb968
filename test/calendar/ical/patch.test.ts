import { describe, expect, it } from "vitest";
import { NotFoundError } from "../../../calendar/errors.ts";
import { conflictMarkerOf, patchEventIcs, reservationToIcs, reservationsFromIcs } from "../../../calendar/ical/index.ts";
import { cal, fixture, users, wide } from "./helpers.ts";

const ctx = { resource: "r", timezone: "Europe/Berlin", users, now: new Date("2026-11-01T00:00:00Z") };
const now = new Date("2026-11-20T12:00:00Z");
const unfold = (s: string) => s.replace(/\r\n[ \t]/g, "");

describe("patchEventIcs", () => {
  it("marks and clears a conflict, keeping everything else of the user's event", () => {
    const original = fixture("thunderbird-weekly-vtimezone.ics").replace(/\n/g, "\r\n");
    const single = original.replace(/RRULE:[^\r]*\r\n/, "").replace(/EXDATE[^\r]*\r\n/, "");
    const marked = patchEventIcs(single, { conflictWith: ["other-uid"] }, undefined, { now });
    const u = unfold(marked);
    expect(u).toContain("SUMMARY:[conflict] Board bring-up");
    expect(u).toContain("X-LABHOG-STATE:conflict");
    expect(u).toContain("X-LABHOG-CONFLICT-WITH:other-uid");
    for (const keep of ["X-MOZ-GENERATION:2", "BEGIN:VALARM", "TZID:Lab Local Time", "ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION:mailto:bob@example.org", "DTSTART;TZID=Lab Local Time:20261019T100000", "DTSTAMP:20261001T080500Z", "CREATED:20261001T080000Z"]) {
      expect(u).toContain(keep);
    }
    expect(u).toMatch(/\r\nTRIGGER[^:\r]*:-PT15M\r\n/);
    expect(u).toContain("LAST-MODIFIED:20261120T120000Z");
    expect(conflictMarkerOf(marked)).toEqual({ conflict: true, conflictWith: ["other-uid"] });
    // Reading it back: the mark is not input, the purpose is the user's.
    const [r] = reservationsFromIcs(marked, ctx, wide);
    expect(r!.state).not.toBe("conflict");
    expect(r!.purpose).toBe("Board bring-up");

    const cleared = unfold(patchEventIcs(marked, { conflictWith: null }, undefined, { now }));
    expect(cleared).toContain("SUMMARY:Board bring-up");
    expect(cleared).not.toContain("X-LABHOG-STATE");
    expect(cleared).not.toContain("X-LABHOG-CONFLICT-WITH");
    expect(cleared).toContain("DTSTAMP:20261001T080500Z");
  });

  it("changes times in the event's own zone and bumps SEQUENCE and DTSTAMP", () => {
    const ics = fixture("google-bare-tzid.ics").replace(/RRULE:[^\n]*\n/, "");
    const out = unfold(patchEventIcs(ics, { end: "2026-10-31T02:00:00Z" }, undefined, { now }));
    expect(out).toContain("DTEND;TZID=America/Los_Angeles:20261030T190000");
    expect(out).toContain("DTSTART;TZID=America/Los_Angeles:20261030T160000");
    expect(out).toContain("SEQUENCE:1");
    expect(out).toContain("DTSTAMP:20261120T120000Z");
    const [r] = reservationsFromIcs(out, ctx, wide);
    expect(r!.end).toBe("2026-10-31T02:00:00.000Z");
  });

  it("patches one occurrence of a series as a RECURRENCE-ID override, leaving the series alone", () => {
    const ics = fixture("thunderbird-weekly-vtimezone.ics");
    const rid = "2026-10-26T09:00:00.000Z";
    const out = patchEventIcs(ics, { end: "2026-10-26T13:00:00Z", conflictWith: ["x"] }, rid, { timezone: "Europe/Berlin", now });
    const u = unfold(out);
    expect(u).toContain("RECURRENCE-ID;TZID=Lab Local Time:20261026T100000");
    expect(u).toContain("RRULE:FREQ=WEEKLY;BYDAY=MO");
    expect(u.match(/^BEGIN:VEVENT/gm)).toHaveLength(2);
    const rs = reservationsFromIcs(out, ctx, { start: new Date("2026-10-19T00:00:00Z"), end: new Date("2026-11-03T00:00:00Z") });
    expect(rs.map((r) => [r.start, r.end])).toEqual([
      ["2026-10-19T08:00:00.000Z", "2026-10-19T10:00:00.000Z"],
      ["2026-10-26T09:00:00.000Z", "2026-10-26T13:00:00.000Z"],
      ["2026-11-02T09:00:00.000Z", "2026-11-02T11:00:00.000Z"],
    ]);
    expect(rs[1]!.holder.id).toBe("alice");
    expect(conflictMarkerOf(out, rid, "Europe/Berlin").conflict).toBe(true);
    expect(conflictMarkerOf(out).conflict).toBe(false);
    // A second patch of the same occurrence updates that override, no new one.
    const again = patchEventIcs(out, { conflictWith: null }, rid, { timezone: "Europe/Berlin", now });
    expect(unfold(again).match(/^BEGIN:VEVENT/gm)).toHaveLength(2);
    expect(conflictMarkerOf(again, rid, "Europe/Berlin").conflict).toBe(false);
  });

  it("cancels one occurrence", () => {
    const out = patchEventIcs(fixture("google-bare-tzid.ics"), { status: "CANCELLED" }, "2026-11-02T00:00:00.000Z", { now });
    expect(reservationsFromIcs(out, ctx, wide).map((r) => r.start)).toEqual(["2026-10-30T23:00:00.000Z", "2026-10-31T23:00:00.000Z", "2026-11-03T00:00:00.000Z", "2026-11-04T00:00:00.000Z"]);
  });

  it("refuses an occurrence the series does not have", () => {
    expect(() => patchEventIcs(fixture("google-bare-tzid.ics"), { status: "CANCELLED" }, "2026-11-02T01:00:00.000Z")).toThrow(NotFoundError);
  });

  it("live line and usage: replaced in place, the user's description kept", () => {
    const ics = cal(["UID:u", "DTSTAMP:20261001T000000Z", "DTSTART:20261110T100000Z", "DTEND:20261110T110000Z", "DESCRIPTION:my notes\\, keep them"]);
    const one = patchEventIcs(ics, { liveLine: "alice logged in, 2 sessions", usage: { sessions: 2, users: ["alice"] } }, undefined, { now });
    const two = patchEventIcs(one, { liveLine: "alice idle 10 min" }, undefined, { now });
    const u = unfold(two);
    expect(u).toContain("DESCRIPTION:alice idle 10 min\\n\\nmy notes\\, keep them");
    expect(u).not.toContain("2 sessions\\n");
    expect(reservationsFromIcs(two, ctx, wide)[0]!.usage).toEqual({ sessions: 2, users: ["alice"] });
    const three = unfold(patchEventIcs(two, { liveLine: null, usage: null }, undefined, { now }));
    expect(three).toContain("DESCRIPTION:my notes\\, keep them");
    expect(three).not.toContain("X-LABHOG-USAGE");
    expect(three).toContain("DTSTAMP:20261001T000000Z");
    // An event without CREATED gets its old DTSTAMP as CREATED, so the conflict order cannot move.
    expect(three).toContain("CREATED:20261001T000000Z");
  });

  it("works on labhog's own events", () => {
    const ics = reservationToIcs({ uid: "lh", holder: users[0]!, start: "2026-11-26T10:00:00Z", end: "2026-11-26T11:00:00Z", exclusive: true, purpose: "p" }, ctx);
    const out = patchEventIcs(ics, { end: "2026-11-26T12:00:00Z" });
    const [r] = reservationsFromIcs(out, ctx, wide);
    expect(r).toMatchObject({ holder: { id: "alice" }, end: "2026-11-26T12:00:00.000Z", purpose: "p", source: "api" });
  });
});
