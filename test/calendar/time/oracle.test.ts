import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { reservationsFromIcs, reservationToIcs, patchEventIcs } from "../../../calendar/ical/index.ts";
import { CASES, HAND_WORKED, handWorkedIcs, icsOf, type TimeCase } from "./cases.ts";

/**
 * labhog's event times against an oracle that is not labhog's code:
 * ical-oracle.py (python3-icalendar, zoneinfo, dateutil). See cases.ts for
 * the table and ical-oracle.py for how the oracle reads each rule. Set
 * LABHOG_WRITE_ORACLE=1 to regenerate oracle-expected.json after adding cases.
 */

const here = import.meta.dirname;
const expectedFile = join(here, "oracle-expected.json");
const users = [{ id: "alice", email: "alice@example.org", unix: ["alice"], sshKeys: [], groups: [] }];

interface OracleCase { name: string; ics: string; lab: string; window: [string, string]; aliases?: Record<string, string> }

function oracle(cases: OracleCase[]): Promise<Record<string, string[][]>> {
  return new Promise((resolve, reject) => {
    const child = execFile("/usr/bin/python3", [join(here, "ical-oracle.py")], { maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`oracle failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as Record<string, string[][]>);
    });
    child.stdin!.end(JSON.stringify({ cases }));
  });
}

function ours(ics: string, lab: string, window: [string, string]): string[][] {
  const rs = reservationsFromIcs(ics, { resource: "r", timezone: lab, users, owner: "alice" }, { start: new Date(window[0]), end: new Date(window[1]) });
  return rs.map((r) => [r.start, r.end]).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

const asOracleCase = (c: TimeCase): OracleCase => ({ name: c.name, ics: icsOf(c), lab: c.lab, window: c.window, aliases: c.aliases });

describe("event times against python3-icalendar + zoneinfo", async () => {
  const fromOracle = await oracle(CASES.map(asOracleCase));
  if (process.env.LABHOG_WRITE_ORACLE === "1") writeFileSync(expectedFile, JSON.stringify(fromOracle, null, 1) + "\n");
  const stored = JSON.parse(readFileSync(expectedFile, "utf8")) as Record<string, string[][]>;

  it("the oracle still says what oracle-expected.json (used inside workerd) says", () => {
    expect(fromOracle).toEqual(stored);
  });

  it("the oracle agrees with RFC 5545's own examples, worked by hand", async () => {
    const got = await oracle(HAND_WORKED.map((h) => ({ name: h.name, ics: handWorkedIcs(h), lab: "UTC", window: ["2000-01-01T00:00:00Z", "2030-01-01T00:00:00Z"], aliases: { "Eastern Standard Time": "America/New_York", "Lord Howe Standard Time": "Australia/Lord_Howe" } })));
    for (const h of HAND_WORKED) expect(got[h.name]![0]![0], h.name).toBe(h.utc);
  });

  it.each(HAND_WORKED)("reads $name as the RFC says", (h) => {
    const [[start, end]] = ours(handWorkedIcs(h), "UTC", ["2000-01-01T00:00:00Z", "2030-01-01T00:00:00Z"]) as [[string, string]];
    expect(start).toBe(h.utc);
    expect(Date.parse(end!) - Date.parse(start!)).toBe(3_600_000);
  });

  // The oracle does not expand RDATE; worked by hand from RFC 5545 §3.3.6 and §3.3.9
  // (a PERIOD's duration follows DURATION's rules): Berlin, spring day, clocks 02:00 → 03:00.
  it("RDATE periods with a duration: the time part exact, days nominal", () => {
    const ics = icsOf({
      name: "rdate",
      lab: "Europe/Berlin",
      window: ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"],
      events: [[
        "DTSTART;TZID=Europe/Berlin:20260320T013000",
        "DURATION:PT1H",
        "RDATE;VALUE=PERIOD;TZID=Europe/Berlin:20260329T013000/PT4H,20260328T090000/P1D",
      ]],
    });
    expect(ours(ics, "Europe/Berlin", ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"])).toEqual([
      ["2026-03-20T00:30:00.000Z", "2026-03-20T01:30:00.000Z"],
      ["2026-03-28T08:00:00.000Z", "2026-03-29T07:00:00.000Z"], // 09:00 CET → 09:00 CEST next day: 23 h
      ["2026-03-29T00:30:00.000Z", "2026-03-29T04:30:00.000Z"], // 01:30 CET + 4 real hours = 06:30 CEST
    ]);
  });

  it.each(CASES)("reads: $name", (c) => {
    expect(ours(icsOf(c), c.lab, c.window)).toEqual(fromOracle[c.name]);
  });
});

describe("writing: what labhog writes reads back the same, in labhog and in the oracle", async () => {
  // Instants around every change in the table: both passes of each repeated hour, both sides of each gap.
  const instants = [
    "2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z",
    "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-03-08T07:30:00Z",
    "2026-04-04T14:45:00Z", "2026-04-04T15:15:00Z", "2026-10-03T15:45:00Z",
  ];

  it("API bookings (reservationToIcs) round-trip exactly", async () => {
    const written = instants.map((start, i) => ({
      name: `api ${i}`,
      ics: reservationToIcs({ uid: `api-${i}`, holder: users[0]!, start, end: new Date(Date.parse(start) + 5_400_000).toISOString(), exclusive: true, purpose: "x" }, { resource: "r", timezone: "Europe/Berlin", users }),
      start,
    }));
    const read = await oracle(written.map((w) => ({ name: w.name, ics: w.ics, lab: "Europe/Berlin", window: ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"] })));
    for (const w of written) {
      const want = [[new Date(w.start).toISOString(), new Date(Date.parse(w.start) + 5_400_000).toISOString()]];
      expect(read[w.name], w.name).toEqual(want);
      expect(ours(w.ics, "Europe/Berlin", ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"]), w.name).toEqual(want);
    }
  });

  // Moving an app's event keeps its zone where the zone can name the instant;
  // the second pass of a repeated hour cannot be named in local time, so it is written in UTC.
  const zoned: Array<{ name: string; lines: string[]; lab: string; vtz?: TimeCase }> = [
    { name: "IANA TZID", lines: ["DTSTART;TZID=America/New_York:20260301T090000", "DTEND;TZID=Europe/Berlin:20260301T160000"], lab: "Europe/Berlin" },
    { name: "in-file VTIMEZONE", lines: ["DTSTART;TZID=Lord Howe Standard Time:20260301T090000", "DURATION:PT1H"], lab: "Europe/Berlin", vtz: CASES.find((c) => c.name === "in-file Lord Howe zone: repeated half hour") },
    { name: "floating", lines: ["DTSTART:20260301T090000", "DTEND:20260301T100000"], lab: "America/New_York" },
  ];

  it.each(zoned)("patched app events ($name) round-trip exactly", async (z) => {
    const base = icsOf({ name: z.name, lab: z.lab, window: ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"], events: [z.lines], vtimezones: z.vtz?.vtimezones });
    const aliases = z.vtz?.aliases;
    const patched = instants.map((start, i) => {
      const end = new Date(Date.parse(start) + 3_600_000).toISOString();
      return { name: `${z.name} ${i}`, want: [[new Date(start).toISOString(), end]], ics: patchEventIcs(base, { start, end }, undefined, { timezone: z.lab }) };
    });
    const read = await oracle(patched.map((p) => ({ name: p.name, ics: p.ics, lab: z.lab, window: ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"], aliases })));
    for (const p of patched) {
      expect(ours(p.ics, z.lab, ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"]), p.name).toEqual(p.want);
      expect(read[p.name], p.name).toEqual(p.want);
    }
    // The zone is kept where it can name the instant (here: an ordinary hour).
    expect(patched[0]!.ics).toMatch(z.name === "floating" ? /DTSTART:20260328T\d{6}\r\n/ : /DTSTART;TZID=/);
  });
});
