import { describe, expect, it } from "vitest";
import { InvalidEventError } from "../../../calendar/errors.ts";
import { reservationToIcs, reservationsFromIcs, type MappingContext } from "../../../calendar/ical/index.ts";
import { cal, fixture, users, wide } from "./helpers.ts";

const ctx: MappingContext = { resource: "rk3588-1", timezone: "Europe/Berlin", users, now: new Date("2026-11-01T00:00:00Z") };
const map = (ics: string, c: MappingContext = ctx, w = wide) => reservationsFromIcs(ics, c, w, "obj");

describe("labhog's own events (X-LABHOG-*) both ways", () => {
  it("writes every field and reads the same reservation back", () => {
    const ics = reservationToIcs(
      { uid: "lh-1", holder: users[0]!, start: "2026-11-26T10:00:00Z", end: "2026-11-26T12:30:00Z", exclusive: true, purpose: "flashing new bootloader", image: "registry.example.org/img:v1", mode: "dfu", leaseTtl: 600, state: "upcoming", created: "2026-11-20T08:00:00Z" },
      ctx,
    );
    for (const line of ["SUMMARY:alice: flashing new bootloader", "X-LABHOG-HOLDER:alice", "X-LABHOG-EXCLUSIVE:TRUE", "X-LABHOG-IMAGE:registry.example.org/img:v1", "X-LABHOG-MODE:dfu", "X-LABHOG-STATE:upcoming", "X-LABHOG-LEASE-TTL:600", "TRANSP:OPAQUE", "CREATED:20261120T080000Z", "PRODID:-//labhog//labhog 0.1//EN"]) {
      expect(ics).toContain(line);
    }
    const unfolded = ics.replace(/\r\n[ \t]/g, "");
    expect(unfolded).toMatch(/ORGANIZER;CN=Alice A\.;SCHEDULE-AGENT=CLIENT:mailto:alice@example\.org/);
    expect(unfolded).toMatch(/\r\nATTENDEE;[^\r]*SCHEDULE-AGENT=CLIENT[^\r]*:mailto:alice@example\.org/);
    expect(ics).toMatch(/\r\nDTSTAMP:\d{8}T\d{6}Z\r\n/);
    const [r, ...rest] = map(ics);
    expect(rest).toHaveLength(0);
    expect(r).toMatchObject({
      id: "lh-1",
      uid: "lh-1",
      resource: "rk3588-1",
      holder: { id: "alice" },
      start: "2026-11-26T10:00:00.000Z",
      end: "2026-11-26T12:30:00.000Z",
      exclusive: true,
      purpose: "flashing new bootloader",
      image: "registry.example.org/img:v1",
      mode: "dfu",
      leaseTtl: 600,
      source: "api",
      state: "upcoming",
      created: "2026-11-20T08:00:00.000Z",
    });
  });

  it("a reservation without a purpose has the holder as its summary and reads back with an empty purpose", () => {
    const ics = reservationToIcs({ uid: "lh-3", holder: users[0]!, start: "2026-11-26T10:00:00Z", end: "2026-11-26T11:00:00Z", exclusive: true, purpose: "" }, ctx);
    expect(ics.replace(/\r\n[ \t]/g, "")).toMatch(new RegExp(`^SUMMARY:${users[0]!.id}\r?$`, "m"));
    expect(map(ics)[0]!.purpose).toBe("");
    // events written before this change said "alice:"
    expect(map(ics.replace(`SUMMARY:${users[0]!.id}`, `SUMMARY:${users[0]!.id}:`))[0]!.purpose).toBe("");
  });

  it("shared reservations are TRANSPARENT; hostile text cannot add properties", () => {
    const ics = reservationToIcs({ uid: "lh-2", holder: users[1]!, start: "2026-11-26T10:00:00Z", end: "2026-11-26T11:00:00Z", exclusive: false, purpose: "x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil", image: "a,b;c\\d\nX-LABHOG-HOLDER:root" }, ctx);
    expect(ics).toContain("TRANSP:TRANSPARENT");
    const unfolded = ics.replace(/\r\n[ \t]/g, "");
    expect(unfolded.match(/^BEGIN:VEVENT/gm)).toHaveLength(1);
    expect(unfolded.match(/^UID:/gm)).toHaveLength(1);
    expect(unfolded.match(/^X-LABHOG-HOLDER/gm)).toHaveLength(1);
    const [r] = map(ics);
    expect(r!.exclusive).toBe(false);
    expect(r!.holder.id).toBe("bob");
    expect(r!.image).toBe("a,b;c\\d\nX-LABHOG-HOLDER:root");
  });

  it("X-LABHOG-EXCLUSIVE applies when TRANSP is absent; TRANSP wins when a calendar app changed it", () => {
    expect(map(cal(["UID:e1", "DTSTAMP:20261001T000000Z", "DTSTART:20261110T100000Z", "DTEND:20261110T110000Z", "X-LABHOG-HOLDER:alice", "X-LABHOG-EXCLUSIVE:FALSE"]))[0]!.exclusive).toBe(false);
    expect(map(cal(["UID:e2", "DTSTAMP:20261001T000000Z", "DTSTART:20261110T100000Z", "DTEND:20261110T110000Z", "X-LABHOG-EXCLUSIVE:TRUE", "TRANSP:TRANSPARENT"]))[0]!.exclusive).toBe(false);
  });

  it("X-LABHOG-STATE:conflict on an event is not input: the state is recomputed", () => {
    const [r] = map(cal(["UID:c1", "DTSTAMP:20261001T000000Z", "DTSTART:20261110T100000Z", "DTEND:20261110T110000Z", "SUMMARY:[conflict] alice: test", "X-LABHOG-HOLDER:alice", "X-LABHOG-STATE:conflict", "X-LABHOG-CONFLICT-WITH:other"]));
    expect(r!.state).toBe("upcoming");
    expect(r!.conflictWith).toBeUndefined();
    expect(r!.purpose).toBe("test");
  });
});

describe("events made in calendar apps", () => {
  const base = ["DTSTAMP:20261001T000000Z", "DTSTART:20261110T100000Z", "DTEND:20261110T110000Z", "SUMMARY:Board bring-up"];

  it("holder from ORGANIZER (case-insensitive mailto)", () => {
    const [r] = map(cal(["UID:h1", ...base, "ORGANIZER:MAILTO:BOB@example.ORG", "ATTENDEE:mailto:alice@example.org"]));
    expect(r!.holder).toEqual({ id: "bob", raw: "bob@example.org" });
    expect(r!.source).toBe("calendar");
    expect(r!.purpose).toBe("Board bring-up");
  });

  it("else the first ATTENDEE that is a known user", () => {
    const [r] = map(cal(["UID:h2", ...base, "ORGANIZER:mailto:stranger@elsewhere.example", "ATTENDEE:mailto:room@example.org", "ATTENDEE:mailto:alice@example.org", "ATTENDEE:mailto:bob@example.org"]));
    expect(r!.holder.id).toBe("alice");
  });

  it("else the calendar's owner mapping", () => {
    const [r] = map(cal(["UID:h3", ...base]), { ...ctx, owner: "owner1" });
    expect(r!.holder.id).toBe("owner1");
  });

  it("else nobody: id null with the reason, never a guess", () => {
    const [r] = map(cal(["UID:h4", ...base, "ORGANIZER:mailto:stranger@elsewhere.example"]));
    expect(r!.holder.id).toBeNull();
    expect(r!.holder.raw).toBe("stranger@elsewhere.example");
    expect(r!.holder.problem).toMatch(/stranger@elsewhere\.example is not a known user/);
    const [r2] = map(cal(["UID:h5", ...base]));
    expect(r2!.holder).toMatchObject({ id: null, raw: "" });
    expect(r2!.holder.problem).toBeTruthy();
    const [r3] = map(cal(["UID:h6", ...base]), { ...ctx, owner: "ghost" });
    expect(r3!.holder.id).toBeNull();
    expect(r3!.holder.problem).toMatch(/ghost/);
  });

  it("STATUS:CANCELLED is no reservation", () => {
    expect(map(cal(["UID:x1", ...base, "STATUS:CANCELLED"]))).toEqual([]);
  });

  it("Thunderbird: VTIMEZONE after the VEVENT, non-IANA TZID, EXDATE, alarm", () => {
    const rs = map(fixture("thunderbird-weekly-vtimezone.ics"), ctx, { start: new Date("2026-10-01T00:00:00Z"), end: new Date("2026-11-20T00:00:00Z") });
    expect(rs.map((r) => r.start)).toEqual(["2026-10-19T08:00:00.000Z", "2026-10-26T09:00:00.000Z", "2026-11-02T09:00:00.000Z", "2026-11-16T09:00:00.000Z"]);
    expect(rs.every((r) => r.holder.id === "alice" && r.exclusive && r.end === new Date(Date.parse(r.start) + 2 * 3600e3).toISOString())).toBe(true);
    expect(rs[0]!.id).toBe("tb-weekly-1@example.org/2026-10-19T08:00:00.000Z");
    expect(rs[0]!.created).toBe("2026-10-01T08:00:00.000Z");
  });

  it("an object's own VTIMEZONE applies to that object only; an empty one falls back to the IANA zone", () => {
    const bogus = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:x", "BEGIN:VTIMEZONE", "TZID:Europe/Berlin", "BEGIN:STANDARD", "DTSTART:19700101T000000", "TZOFFSETFROM:+0500", "TZOFFSETTO:+0500", "END:STANDARD", "END:VTIMEZONE", "BEGIN:VEVENT", "UID:a", "DTSTAMP:20261001T000000Z", "DTSTART;TZID=Europe/Berlin:20261110T100000", "END:VEVENT", "END:VCALENDAR"].join("\r\n");
    const bare = cal(["UID:b", "DTSTAMP:20261001T000000Z", "DTSTART;TZID=Europe/Berlin:20261110T100000"]);
    const empty = bogus.replace(/BEGIN:STANDARD[\s\S]*END:STANDARD\r\n/, "");
    expect(map(bogus)[0]!.start).toBe("2026-11-10T05:00:00.000Z");
    expect(map(bare)[0]!.start).toBe("2026-11-10T09:00:00.000Z");
    expect(map(empty)[0]!.start).toBe("2026-11-10T09:00:00.000Z");
    expect(map(bogus)[0]!.start).toBe("2026-11-10T05:00:00.000Z");
  });

  it("Google: bare IANA TZID (RFC 7809) across the US DST change; unknown organizer, known attendee", () => {
    const rs = map(fixture("google-bare-tzid.ics"));
    expect(rs.map((r) => r.start)).toEqual(["2026-10-30T23:00:00.000Z", "2026-10-31T23:00:00.000Z", "2026-11-02T00:00:00.000Z", "2026-11-03T00:00:00.000Z", "2026-11-04T00:00:00.000Z"]);
    expect(rs[0]!.holder.id).toBe("bob");
  });

  it("Apple: all-day, two days, in the lab's zone (across the EU DST change), shared", () => {
    const [r] = map(fixture("apple-allday.ics"), { ...ctx, owner: "owner1" });
    expect(r).toMatchObject({ start: "2026-10-23T22:00:00.000Z", end: "2026-10-25T23:00:00.000Z", allDay: true, exclusive: false, holder: { id: "owner1" } });
    const [ny] = map(fixture("apple-allday.ics"), { ...ctx, timezone: "America/New_York" });
    expect(ny).toMatchObject({ start: "2026-10-24T04:00:00.000Z", end: "2026-10-26T04:00:00.000Z" });
  });

  it("all-day without DTEND lasts one day; recurring all-day events stay on their dates", () => {
    const rs = map(cal(["UID:ad", "DTSTAMP:20261001T000000Z", "DTSTART;VALUE=DATE:20261027", "RRULE:FREQ=WEEKLY;COUNT=2"]));
    expect(rs.map((r) => [r.start, r.end])).toEqual([
      ["2026-10-26T23:00:00.000Z", "2026-10-27T23:00:00.000Z"],
      ["2026-11-02T23:00:00.000Z", "2026-11-03T23:00:00.000Z"],
    ]);
  });

  it("floating times are in the lab's zone", () => {
    const ics = cal(["UID:fl", "DTSTAMP:20261001T000000Z", "DTSTART:20261110T100000", "DTEND:20261110T110000"]);
    expect(map(ics)[0]!.start).toBe("2026-11-10T09:00:00.000Z");
    expect(map(ics, { ...ctx, timezone: "Asia/Tokyo" })[0]!.start).toBe("2026-11-10T01:00:00.000Z");
  });

  it("missing DTEND: DURATION if present (nominal days across DST), else zero length (RFC 5545 §3.6.1)", () => {
    const dur = map(cal(["UID:d1", "DTSTAMP:20261001T000000Z", "DTSTART;TZID=Europe/Berlin:20261024T120000", "DURATION:P1D"]))[0]!;
    expect([dur.start, dur.end]).toEqual(["2026-10-24T10:00:00.000Z", "2026-10-25T11:00:00.000Z"]);
    const none = map(cal(["UID:d2", "DTSTAMP:20261001T000000Z", "DTSTART:20261110T100000Z"]))[0]!;
    expect(none.end).toBe(none.start);
  });

  it("an override without people keeps the series' holder", () => {
    const ics = cal(
      ["UID:s", "DTSTAMP:20261001T000000Z", "DTSTART:20261110T100000Z", "DTEND:20261110T110000Z", "RRULE:FREQ=DAILY;COUNT=2", "ORGANIZER:mailto:alice@example.org"],
      ["UID:s", "DTSTAMP:20261001T000000Z", "RECURRENCE-ID:20261111T100000Z", "DTSTART:20261111T120000Z", "DTEND:20261111T130000Z"],
    );
    expect(map(ics).map((r) => r.holder.id)).toEqual(["alice", "alice"]);
  });
});

describe("bad objects: a typed error for that object", () => {
  const bad = (ics: string, re: RegExp) => {
    let err: unknown;
    try {
      map(ics);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidEventError);
    expect((err as InvalidEventError).objectId).toBe("obj");
    expect((err as Error).message).toMatch(re);
  };

  it("broken ICS", () => bad("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:nonsense\r\n", /valid|cannot/));
  it("not a VCALENDAR", () => bad("BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n", /VCALENDAR/));
  it("unknown TZID", () => bad(cal(["UID:t", "DTSTAMP:20261001T000000Z", "DTSTART;TZID=Mars/Olympus_Mons:20261110T100000"]), /unknown time zone "Mars\/Olympus_Mons"/));
  it("DTEND before DTSTART", () => bad(cal(["UID:t", "DTSTAMP:20261001T000000Z", "DTSTART:20261110T100000Z", "DTEND:20261110T090000Z"]), /DTEND is before DTSTART/));
  it("no DTSTART", () => bad(cal(["UID:t", "DTSTAMP:20261001T000000Z"]), /no DTSTART/));
  it("no UID", () => bad(cal(["DTSTAMP:20261001T000000Z", "DTSTART:20261110T100000Z"]), /without UID/));
  it("10 MB description, rejected before parsing", () => {
    const t0 = performance.now();
    bad(cal(["UID:t", "DTSTART:20261110T100000Z", `DESCRIPTION:${"x".repeat(10 * 1024 * 1024)}`]), /more than the limit/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
  it("an RRULE that never ends, from long ago: capped, not hung", () => {
    const t0 = performance.now();
    bad(cal(["UID:t", "DTSTART:19700101T000000Z", "RRULE:FREQ=SECONDLY"]), /more than 20000 iterations/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
  it("an RRULE that never matches: capped inside ical.js's own search loop", () => {
    const t0 = performance.now();
    bad(cal(["UID:t", "DTSTART:20260106T100000Z", "RRULE:FREQ=DAILY;INTERVAL=7;BYDAY=MO"]), /iterations|no instance/);
    bad(cal(["UID:t", "DTSTART:20260106T100000Z", "RRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30"]), /iterations/);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
  it("impossible dates are skipped, not rolled over (ical.js gives March 1 or 2)", () => {
    expect(map(cal(["UID:f30", "DTSTAMP:20261001T000000Z", "DTSTART:20260130T100000Z", "RRULE:FREQ=YEARLY;BYMONTH=1,2;BYMONTHDAY=30"]), ctx, { start: new Date("2026-01-01"), end: new Date("2028-12-31") }).map((r) => r.start)).toEqual(["2026-01-30T10:00:00.000Z", "2027-01-30T10:00:00.000Z", "2028-01-30T10:00:00.000Z"]);
    bad(cal(["UID:f31", "DTSTAMP:20261001T000000Z", "DTSTART:20260130T100000Z", "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"]), /no instance/);
  });
  it("a VTIMEZONE with a non-yearly transition rule", () =>
    bad(
      ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:x", "BEGIN:VTIMEZONE", "TZID:Evil", "BEGIN:STANDARD", "DTSTART:19700101T000000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "RRULE:FREQ=SECONDLY", "END:STANDARD", "END:VTIMEZONE", "BEGIN:VEVENT", "UID:t", "DTSTART;TZID=Evil:20261110T100000", "END:VEVENT", "END:VCALENDAR"].join("\r\n"),
      /yearly/,
    ));
});
