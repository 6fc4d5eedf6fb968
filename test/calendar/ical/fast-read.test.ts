import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fastReservations } from "../../../calendar/ical/fast-read.ts";
import { parseJcal } from "../../../calendar/ical/parse.ts";
import { fullReservationsFromIcs, labZone, reservationsFromIcs, type MappingContext } from "../../../calendar/ical/read.ts";
import type { TimeWindow } from "../../../calendar/model.ts";
import { loadRfcCases } from "../recurrence/rfc-examples.ts";
import { CASES, HAND_WORKED, VTIMEZONES, handWorkedIcs, icsOf } from "../time/cases.ts";
import { cal, rng, users } from "./helpers.ts";

/**
 * The jCal fast path (calendar/ical/fast-read.ts) against the full ical.js
 * path (fullReservationsFromIcs): on every calendar object the tests hold
 * and on generated ones, both give the same reservations, byte for byte as
 * JSON, or the same error. And the fast path does answer the shapes it is
 * for (else this would compare the full path with itself).
 */

type Outcome = { ok: string } | { error: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { ok: JSON.stringify(f()) };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

const NOW = new Date("2026-03-15T12:00:00Z");
const WINDOWS: TimeWindow[] = [
  { start: new Date("2026-01-01T00:00:00Z"), end: new Date("2027-06-01T00:00:00Z") },
  { start: new Date("2026-03-01T00:00:00Z"), end: new Date("2026-04-01T00:00:00Z") },
  { start: new Date("2026-03-29T00:00:00Z"), end: new Date("2026-03-30T00:00:00Z") },
  { start: new Date("1997-01-01T00:00:00Z"), end: new Date("2000-01-01T00:00:00Z") },
];
const CONTEXTS: MappingContext[] = [
  { resource: "r", timezone: "Europe/Berlin", users, now: NOW },
  { resource: "r", timezone: "America/New_York", users, owner: "owner1", now: NOW },
  { resource: "r", timezone: "Australia/Lord_Howe", users, now: NOW, maxIterations: 60 },
];

/** Every way of mapping `ics` the same, fast or full. */
function expectAgree(ics: string, name: string): void {
  for (const ctx of CONTEXTS) {
    for (const w of WINDOWS) {
      const full = outcome(() => fullReservationsFromIcs(ics, ctx, w, name));
      const fast = outcome(() => reservationsFromIcs(ics, ctx, w, name));
      expect(fast, `${name} in ${ctx.timezone}, ${w.start.toISOString()}…`).toEqual(full);
    }
  }
}

/** Whether the fast path answers `ics` itself (rather than handing it to ical.js). */
function fastAnswers(ics: string): boolean {
  const ctx = CONTEXTS[0]!;
  const w = WINDOWS[0]!;
  return fastReservations(parseJcal(ics), ctx, labZone(ctx), { startMs: w.start.getTime(), endMs: w.end.getTime() }, NOW.getTime()) !== undefined;
}

const fixtures = fileURLToPath(new URL("../../fixtures/ics/", import.meta.url));

const pad = (n: number) => String(n).padStart(2, "0");
const VTZ_BERLIN = ["BEGIN:VTIMEZONE", "TZID:Berlin Local", "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT", "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD", "END:VTIMEZONE"];

/**
 * Generated calendar objects over the shapes the fast path reads and the
 * ones it must hand over: zones (UTC, floating, IANA, in-file VTIMEZONE),
 * all-day, DURATION, RRULE with COUNT/UNTIL/BYDAY/INTERVAL, EXDATE,
 * overrides (THISANDFUTURE too), RDATE incl. VALUE=PERIOD, DST gaps and
 * repeats, out-of-range fields.
 */
function generated(seed: number): string {
  const r = rng(seed);
  const vtz: string[] = [];
  const events: string[][] = [];
  const n = r.chance(0.15) ? 2 : 1;
  for (let e = 0; e < n; e++) {
    const uid = r.chance(0.9) ? `gen-${seed}-${e}` : "same-uid";
    const month = 1 + r.int(12);
    const day = r.chance(0.1) ? r.pick([29, 30, 31]) : r.pick([1, 9, 25, 28]);
    // DST days in Berlin and New York, and hours in their gaps and repeats.
    const date = r.chance(0.2) ? r.pick(["20260329", "20261025", "20260308", "20261101"]) : `2026${pad(month)}${pad(day)}`;
    const time = r.chance(0.05) ? r.pick(["T235960", "T240000"]) : r.pick(["T080000", "T023000", "T013000", "T235959", "T000000", "T120000"]);
    const zone = r.pick(["utc", "utc", "floating", "berlin", "ny", "lordhowe", "vtz", "date", "utc-tzid"]);
    const value = (d: string, t: string) => {
      switch (zone) {
        case "utc": return `:${d}${t}Z`;
        case "floating": return `:${d}${t}`;
        case "berlin": return `;TZID=Europe/Berlin:${d}${t}`;
        case "ny": return `;TZID=America/New_York:${d}${t}`;
        case "lordhowe": return `;TZID=Australia/Lord_Howe:${d}${t}`;
        case "vtz": return `;TZID=Berlin Local:${d}${t}`;
        case "utc-tzid": return `;TZID=UTC:${d}${t}`;
        default: return `;VALUE=DATE:${d}`;
      }
    };
    if (zone === "vtz" && vtz.length === 0) vtz.push(...VTZ_BERLIN);
    const lines = [`UID:${uid}`, "DTSTAMP:20260101T000000Z", `DTSTART${value(date, time)}`];
    const endKind = r.chance(0.05) ? "dtend-before" : r.pick(["dtend", "dtend", "duration", "none", "dtend-utc"]);
    if (endKind === "dtend") lines.push(`DTEND${value(date, r.pick(["T093000", "T033000", "T235959"]))}`);
    else if (endKind === "dtend-utc") lines.push(`DTEND:${date}T230000Z`);
    else if (endKind === "dtend-before") lines.push(`DTEND${value("20251231", "T000000")}`);
    else if (endKind === "duration") lines.push(`DURATION:${r.chance(0.05) ? "-PT1H" : r.pick(["PT1H", "P1D", "PT4H", "P1W", "P1DT2H", "PT0S", "P2D"])}`);
    if (zone === "date" && endKind === "dtend" && r.chance(0.5)) lines.push(`DTEND;VALUE=DATE:${date}`);
    if (r.chance(0.55)) {
      const parts = [`FREQ=${r.chance(0.1) ? "MONTHLY" : r.pick(["DAILY", "WEEKLY"])}`];
      if (r.chance(0.3)) parts.push(`INTERVAL=${r.pick([1, 2, 3, 7, 14])}`);
      if (r.chance(0.4)) parts.push(`BYDAY=${r.chance(0.1) ? "1MO" : r.pick(["MO", "MO,TU", "SU,SA", "FR", "MO,WE,FR"])}`);
      if (r.chance(0.4)) parts.push(`COUNT=${r.pick([1, 3, 10, 30])}`);
      else if (r.chance(0.4)) parts.push(`UNTIL=${r.pick(["20260401", "20260401T000000Z", "20261231T235959Z", "22500101T000000Z"])}`);
      if (r.chance(0.2)) parts.push(`WKST=${r.pick(["SU", "MO"])}`);
      lines.push(`RRULE:${parts.join(";")}`);
      if (r.chance(0.4)) lines.push(`EXDATE${value(date, time)}`);
      if (r.chance(0.2)) lines.push(`EXDATE;VALUE=DATE:${date.slice(0, 6)}${pad(Math.min(28, +date.slice(6) + 7))}`);
      if (r.chance(0.15)) lines.push(`EXDATE:${date}T${time.slice(1)}Z,${date.slice(0, 6)}15T080000Z`);
      if (r.chance(0.05)) lines.push(`RDATE${r.chance(0.5) ? ";VALUE=PERIOD:20260610T080000Z/PT2H" : ":20260611T080000Z"}`);
      if (r.chance(0.05)) lines.push("RRULE:FREQ=DAILY;COUNT=2");
    }
    if (r.chance(0.1)) lines.push("STATUS:CANCELLED");
    if (r.chance(0.3)) lines.push(`ORGANIZER;CN=X:mailto:${r.pick(["alice@example.org", "BOB@example.org", "nobody@example.org", "not-an-address"])}`);
    if (r.chance(0.2)) lines.push("ATTENDEE:mailto:bob@example.org");
    if (r.chance(0.3)) lines.push(`X-LABHOG-HOLDER:${r.pick(["alice", "mallory"])}`);
    if (r.chance(0.2)) lines.push(`TRANSP:${r.pick(["TRANSPARENT", "OPAQUE"])}`);
    if (r.chance(0.2)) lines.push(`X-LABHOG-EXCLUSIVE:${r.pick(["FALSE", "TRUE"])}`);
    if (r.chance(0.2)) lines.push(`X-LABHOG-IMAGE:img-${seed}`, "X-LABHOG-MODE:ssh", "X-LABHOG-LEASE-TTL:300", `X-LABHOG-USAGE:${r.pick(['{"cpu":1}', "not json"])}`);
    if (r.chance(0.05)) lines.push("X-LABHOG-KIND:notice");
    if (r.chance(0.1)) lines.push(`CREATED:${r.pick(["20260101T000000Z", "20260230T000000Z", "20260101T000000", "garbage"])}`);
    if (r.chance(0.03)) lines.push("X-OTHER;TZID=Mars/Base:1");
    lines.push(`SUMMARY:${r.pick(["alice: soldering", "[conflict] bob: x", "alice", "plain"])}`);
    events.push(lines);
    for (let k = r.chance(0.2) ? 1 + r.int(3) : 0; k > 0; k--) {
      const range = r.chance(0.4) ? ";RANGE=THISANDFUTURE" : "";
      const rid = r.chance(0.6) ? value(date, time) : value(`${date.slice(0, 6)}${pad(Math.min(28, +date.slice(6) + r.int(10)))}`, time);
      const moved = [`UID:${uid}`, `RECURRENCE-ID${range}${rid}`, `DTSTART${value(date, r.pick(["T100000", "T060000"]))}`, "SUMMARY:moved"];
      if (r.chance(0.3)) moved.push(`DTEND${value(date, "T110000")}`);
      if (r.chance(0.2)) moved.push("STATUS:CANCELLED");
      if (r.chance(0.3)) moved.push(`SEQUENCE:${r.int(3)}`);
      if (r.chance(0.2)) moved.push("ORGANIZER:mailto:bob@example.org");
      if (r.chance(0.2)) moved.push("CREATED:20260105T000000Z");
      events.push(moved);
    }
  }
  return ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", ...vtz, ...events.flatMap((e) => ["BEGIN:VEVENT", ...e, "END:VEVENT"]), "END:VCALENDAR", ""].join("\r\n");
}

describe("the jCal fast path maps like ical.js", () => {
  it("on every fixture", () => {
    const files = readdirSync(fixtures).filter((f) => f.endsWith(".ics"));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expectAgree(readFileSync(fixtures + f, "utf8"), f);
  });

  it("on the RFC 5545 recurrence examples", () => {
    for (const c of loadRfcCases()) expectAgree(cal(["UID:rfc", ...c.lines]), c.title);
  });

  it("on the event-time cases held to the python oracle", () => {
    for (const c of CASES) expectAgree(icsOf(c), c.name);
    for (const h of HAND_WORKED) expectAgree(handWorkedIcs(h), h.name);
  });

  it("on 1000 generated objects", () => {
    let fast = 0;
    for (let seed = 1; seed <= 1000; seed++) {
      const ics = generated(seed);
      expectAgree(ics, `generated #${seed}`);
      if (fastAnswers(ics)) fast++;
    }
    // Enough of them go the fast way for the comparison to mean something.
    expect(fast).toBeGreaterThan(300);
  });
});

describe("which objects the fast path answers", () => {
  const ev = (...lines: string[]) => cal(["UID:x", "DTSTAMP:20260101T000000Z", ...lines]);
  it("answers UTC, floating, all-day, zoned, DURATION, simple RRULE, EXDATE and overrides", () => {
    expect(fastAnswers(ev("DTSTART:20260301T080000Z", "DTEND:20260301T090000Z"))).toBe(true);
    expect(fastAnswers(ev("DTSTART:20260301T080000"))).toBe(true);
    expect(fastAnswers(ev("DTSTART;VALUE=DATE:20260301"))).toBe(true);
    expect(fastAnswers(ev("DTSTART;TZID=Europe/Berlin:20260301T080000", "DURATION:P1DT2H"))).toBe(true);
    expect(fastAnswers(ev("DTSTART;TZID=America/New_York:20260301T080000", "DTEND;TZID=America/New_York:20260301T093000", "RRULE:FREQ=DAILY;COUNT=30", "EXDATE;TZID=America/New_York:20260301T080000"))).toBe(true);
    const vtz = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", ...VTIMEZONES["W. Europe Standard Time"], "BEGIN:VEVENT", "UID:x", "DTSTART;TZID=W. Europe Standard Time:20260301T080000", "RRULE:FREQ=WEEKLY;BYDAY=MO,TU", "END:VEVENT", "END:VCALENDAR", ""].join("\r\n");
    expect(fastAnswers(vtz)).toBe(true);
    expect(fastAnswers(cal(["UID:x", "DTSTART:20260301T080000Z", "RRULE:FREQ=DAILY"], ["UID:x", "RECURRENCE-ID:20260302T080000Z", "DTSTART:20260302T090000Z"], ["UID:x", "RECURRENCE-ID;RANGE=THISANDFUTURE:20260310T080000Z", "DTSTART:20260310T070000Z"]))).toBe(true);
  });

  it("hands over RDATE (PERIOD too), other rules, unknown zones and fields ical.js would normalize", () => {
    expect(fastAnswers(ev("DTSTART:20260301T080000Z", "RRULE:FREQ=DAILY;COUNT=3", "RDATE;VALUE=PERIOD:20260310T080000Z/PT1H"))).toBe(false);
    expect(fastAnswers(ev("DTSTART:20260301T080000Z", "RDATE:20260310T080000Z"))).toBe(false);
    expect(fastAnswers(ev("DTSTART:20260301T080000Z", "RRULE:FREQ=MONTHLY;BYDAY=1MO"))).toBe(false);
    expect(fastAnswers(ev("DTSTART;TZID=Mars/Base:20260301T080000"))).toBe(false);
    expect(fastAnswers(ev("DTSTART:20260230T080000Z"))).toBe(false);
    expect(fastAnswers(ev("DTSTART:20261231T235960Z"))).toBe(false);
  });
});
