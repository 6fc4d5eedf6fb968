import { describe, expect, it } from "vitest";
import { InvalidEventError } from "../../../calendar/errors.ts";
import { expandCalendar, reservationsFromIcs, type MappingContext } from "../../../calendar/ical/index.ts";
import type { Reservation } from "../../../calendar/model.ts";
import { rng, users } from "../ical/helpers.ts";

/**
 * Property test: for any calendar object — generated, then mutated — mapping
 * either yields well-formed reservations or throws InvalidEventError naming
 * that object; nothing else escapes, nothing hangs, and a bad object never
 * stops the rest of the calendar from mapping.
 *
 * Seeded (FUZZ_SEED to vary it) so every failure is reproducible.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 0x1ab40c);
const CASES = Number(process.env.FUZZ_CASES ?? 3000);

type Rng = ReturnType<typeof rng>;

const ZONES = ["", ";TZID=Europe/Berlin", ";TZID=America/New_York", ";TZID=Asia/Kolkata", ";TZID=Custom Zone", ";TZID=Mars/Base", ";TZID=", ";TZID=Australia/Lord_Howe"];
const FREQS = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "FORTNIGHTLY", ""];
const BYS = ["BYDAY=MO,WE", "BYDAY=-1FR", "BYDAY=20MO", "BYMONTHDAY=30", "BYMONTHDAY=-1", "BYMONTH=2", "BYMONTH=13", "BYHOUR=25", "BYHOUR=9", "BYSETPOS=-1", "BYWEEKNO=53", "BYYEARDAY=366", "WKST=SU", "BYDAY=MO;BYMONTHDAY=13", "BYMINUTE=0,30"];
const VTZ = ["BEGIN:VTIMEZONE", "TZID:Custom Zone", "BEGIN:STANDARD", "DTSTART:19701025T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD", "BEGIN:DAYLIGHT", "DTSTART:19700329T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT", "END:VTIMEZONE"];

function dt(r: Rng, date = false): string {
  const y = r.chance(0.03) ? r.pick([1601, 9999]) : r.pick([1970, 1999, 2025, 2026, 2026, 2026, 2026, 2027]);
  const m = String(1 + r.int(r.chance(0.05) ? 14 : 12)).padStart(2, "0");
  const d = String(1 + r.int(r.chance(0.05) ? 33 : 28)).padStart(2, "0");
  if (date) return `${y}${m}${d}`;
  const hh = String(r.int(r.chance(0.05) ? 30 : 24)).padStart(2, "0");
  return `${y}${m}${d}T${hh}${r.pick(["00", "30", "15"])}00${r.chance(0.3) ? "Z" : ""}`;
}

function timeProp(r: Rng, name: string, allDay: boolean): string {
  if (allDay) return `${name};VALUE=DATE:${dt(r, true)}`;
  const v = dt(r);
  return `${name}${v.endsWith("Z") ? "" : r.pick(ZONES)}:${v}`;
}

function rrule(r: Rng): string {
  const parts = [`FREQ=${r.pick(FREQS)}`];
  if (r.chance(0.3)) parts.push(`COUNT=${r.pick([1, 5, 1000000, 0, -3])}`);
  else if (r.chance(0.3)) parts.push(`UNTIL=${dt(r)}`);
  if (r.chance(0.4)) parts.push(`INTERVAL=${r.pick([1, 2, 7, 0, 1000])}`);
  for (let i = r.int(3); i > 0; i--) parts.push(r.pick(BYS));
  return `RRULE:${parts.join(";")}`;
}

function vevent(r: Rng, uid: string, override: boolean): string[] {
  const allDay = r.chance(0.15);
  const lines = ["BEGIN:VEVENT", `UID:${uid}`];
  if (r.chance(0.9)) lines.push(`DTSTAMP:${dt(r)}`);
  if (r.chance(0.6)) lines.push(`CREATED:20260101T000000Z`);
  if (r.chance(0.95)) lines.push(timeProp(r, "DTSTART", allDay));
  const endKind = r.int(4);
  if (endKind === 0) lines.push(timeProp(r, "DTEND", allDay));
  if (endKind === 1) lines.push(`DURATION:${r.pick(["PT1H", "P1D", "-PT1H", "PT0S", "P1W", "garbage"])}`);
  if (override) lines.push(`RECURRENCE-ID${r.chance(0.3) ? ";RANGE=THISANDFUTURE" : ""}${timeProp(r, "", allDay)}`);
  else {
    if (r.chance(0.5)) lines.push(rrule(r));
    if (r.chance(0.2)) lines.push(timeProp(r, "EXDATE", allDay));
    if (r.chance(0.2)) lines.push(r.chance(0.5) ? timeProp(r, "RDATE", allDay) : "RDATE;VALUE=PERIOD:20261110T100000Z/PT2H,20261111T100000Z/20261111T090000Z");
  }
  if (r.chance(0.7)) lines.push(`SUMMARY:${r.pick(["alice: test", "[conflict] x", "Board, bring-up; \\n", "ü日本"])}`);
  if (r.chance(0.5)) lines.push(`ORGANIZER:${r.pick(["mailto:alice@example.org", "mailto:nobody@x.example", "not-a-uri", "mailto:"])}`);
  if (r.chance(0.4)) lines.push(`ATTENDEE:mailto:${r.pick(["bob@example.org", "x@y.example"])}`);
  if (r.chance(0.3)) lines.push(`TRANSP:${r.pick(["TRANSPARENT", "OPAQUE", "WEIRD"])}`);
  if (r.chance(0.2)) lines.push(`STATUS:${r.pick(["CANCELLED", "CONFIRMED", "TENTATIVE"])}`);
  if (r.chance(0.3)) lines.push(`X-LABHOG-${r.pick(["HOLDER:alice", "HOLDER:ghost", "EXCLUSIVE:FALSE", "STATE:conflict", "LEASE-TTL:abc", "USAGE:{bad json", "USAGE:{\"a\":1}"])}`);
  if (r.chance(0.02)) lines.push(`DESCRIPTION:${"long ".repeat(250_000)}`);
  lines.push("END:VEVENT");
  return lines;
}

function generate(r: Rng, i: number): string {
  const lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN"];
  if (r.chance(0.3)) lines.push(...VTZ);
  const uid = `fuzz-${i}`;
  lines.push(...vevent(r, uid, false));
  for (let k = r.int(3); k > 0; k--) lines.push(...vevent(r, r.chance(0.9) ? uid : `other-${i}`, true));
  lines.push("END:VCALENDAR");
  return lines.join("\r\n");
}

function mutate(r: Rng, ics: string): string {
  let lines = ics.split("\r\n");
  for (let n = 1 + r.int(4); n > 0; n--) {
    if (lines.length === 0) lines.push("");
    const i = r.int(lines.length);
    switch (r.int(9)) {
      case 0: lines.splice(i, 1); break; // drop a line
      case 1: lines.splice(i, 0, lines[r.int(lines.length)]!); break; // duplicate one
      case 2: lines[i] = lines[i]!.slice(0, r.int(lines[i]!.length + 1)); break; // truncate a line
      case 3: { const s = lines[i]!; const p = r.int(s.length + 1); lines[i] = s.slice(0, p) + String.fromCharCode(r.int(128)) + s.slice(p); break; } // flip in a byte
      case 4: lines.splice(i, 0, r.pick(["BEGIN:VEVENT", "END:VEVENT", "BEGIN:VALARM", "END:VCALENDAR", " folded-continuation", ":", ";;;", "BEGIN:X".repeat(1)])); break;
      case 5: lines = lines.slice(0, r.int(lines.length)); break; // cut the object short
      case 6: lines[i] = lines[i]!.replace(/\d/g, () => String(r.int(10))); break; // scramble digits
      case 7: lines.splice(i, 0, ...Array.from({ length: 200 }, () => "BEGIN:VEVENT")); break; // deep nesting
      case 8: lines[i] = lines[i]!.replace(/[:;]/, r.pick([":", ";", "=", ""])); break;
    }
  }
  return lines.join(r.chance(0.1) ? "\n" : "\r\n");
}

function wellFormed(rs: Reservation[], objectId: string): void {
  const ids = new Set<string>();
  for (const x of rs) {
    expect(typeof x.id === "string" && x.id.length > 0, objectId).toBe(true);
    expect(ids.has(x.id), `duplicate id ${x.id} in ${objectId}`).toBe(false);
    ids.add(x.id);
    expect(Number.isFinite(Date.parse(x.start)) && Number.isFinite(Date.parse(x.end)), objectId).toBe(true);
    expect(Date.parse(x.end) >= Date.parse(x.start), objectId).toBe(true);
    expect(x.holder.id === null ? typeof x.holder.problem === "string" : typeof x.holder.id === "string", objectId).toBe(true);
    expect(["upcoming", "active", "ended"]).toContain(x.state);
  }
}

const ctx: MappingContext = { resource: "r", timezone: "Europe/Berlin", users, maxIterations: 3000, now: new Date("2026-11-01T00:00:00Z") };
const window = { start: new Date("2026-10-01T00:00:00Z"), end: new Date("2026-12-31T00:00:00Z") };

describe(`ICS fuzz (seed ${SEED}, ${CASES} cases)`, () => {
  it("every object maps or fails with InvalidEventError for that object, in bounded time", () => {
    const r = rng(SEED);
    let mapped = 0;
    let invalid = 0;
    let slowest = 0;
    for (let i = 0; i < CASES; i++) {
      const generated = generate(r, i);
      const ics = r.chance(0.5) ? mutate(r, generated) : generated;
      const id = `case-${i}`;
      const t0 = performance.now();
      try {
        wellFormed(reservationsFromIcs(ics, ctx, window, id), id);
        mapped++;
      } catch (e) {
        if (!(e instanceof InvalidEventError)) throw new Error(`seed ${SEED} case ${i}: ${String(e)}\n${ics.slice(0, 2000)}`, { cause: e });
        expect(e.objectId, `seed ${SEED} case ${i}`).toBe(id);
        invalid++;
      }
      const ms = performance.now() - t0;
      slowest = Math.max(slowest, ms);
      expect(ms, `seed ${SEED} case ${i} took ${ms.toFixed(0)} ms`).toBeLessThan(3000);
    }
    // Both outcomes must actually occur, or the generator is not testing anything.
    expect(mapped).toBeGreaterThan(CASES / 10);
    expect(invalid).toBeGreaterThan(CASES / 10);
    console.log(`fuzz: ${mapped} mapped, ${invalid} invalid, slowest ${slowest.toFixed(1)} ms`);
  }, 240_000);

  it("a calendar of good and bad objects: bad ones are reported, the rest maps exactly as alone", () => {
    const r = rng(SEED ^ 0x5a5a);
    for (let batch = 0; batch < 40; batch++) {
      const objects = Array.from({ length: 12 }, (_, i) => {
        const g = generate(r, batch * 100 + i);
        return { id: `b${batch}-${i}`, ics: r.chance(0.5) ? mutate(r, g) : g };
      });
      const alone = objects.map((o) => {
        try {
          return reservationsFromIcs(o.ics, ctx, window, o.id);
        } catch {
          return undefined;
        }
      });
      const { reservations, errors } = expandCalendar(objects, ctx, window);
      expect(errors.map((e) => e.objectId).sort()).toEqual(objects.filter((_, i) => alone[i] === undefined).map((o) => o.id).sort());
      expect(errors.every((e) => e instanceof InvalidEventError)).toBe(true);
      const expected = alone.flatMap((x) => x ?? []);
      expect(reservations.length).toBe(expected.length);
      expect(new Set(reservations.map((x) => `${x.id}|${x.start}`))).toEqual(new Set(expected.map((x) => `${x.id}|${x.start}`)));
    }
  }, 240_000);
});
