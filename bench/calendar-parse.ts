/**
 * Parse + expand of a generated 10,000-event calendar (one calendar object per
 * event, as a CalDAV collection holds them): time, per-object cost, heap kept
 * by the result and peak RSS. The floor is ical.js's bare parse of the same
 * objects in the same run, so the ratio is what the mapping adds on top.
 */
import ICAL from "ical.js";
import { expandCalendar } from "../calendar/ical/index.ts";
import type { User } from "../calendar/model.ts";
import type { BenchRow } from "./types.ts";

const N = 10_000;
const users: User[] = Array.from({ length: 50 }, (_, i) => ({ id: `u${i}`, email: `u${i}@example.org`, unix: [`u${i}`], sshKeys: [], groups: [] }));

const VTZ = ["BEGIN:VTIMEZONE", "TZID:Europe/Berlin", "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT", "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD", "END:VTIMEZONE"];

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** A realistic mix: 70 % single bookings, 20 % weekly/daily series (zoned), 5 % all-day, 5 % with overrides. */
function object(i: number): { id: string; ics: string } {
  const day = 1 + (i % 28);
  const month = 1 + (Math.floor(i / 28) % 12);
  const hour = 8 + (i % 10);
  const start = `2026${pad(month)}${pad(day)}T${pad(hour)}0000`;
  const end = `2026${pad(month)}${pad(day)}T${pad(hour + 1)}3000`;
  const head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//EN"];
  const ev = ["BEGIN:VEVENT", `UID:bench-${i}@example.org`, "DTSTAMP:20260101T000000Z", `CREATED:20260101T${pad(i % 24)}0000Z`, `ORGANIZER;CN=User ${i % 50}:mailto:u${i % 50}@example.org`, `SUMMARY:u${i % 50}: booking ${i}`, `DESCRIPTION:Generated booking number ${i}\\, for the benchmark.`];
  const kind = i % 20;
  let body: string[];
  if (kind < 14) body = [...ev, `DTSTART:${start}Z`, `DTEND:${end}Z`, i % 3 ? "TRANSP:OPAQUE" : "TRANSP:TRANSPARENT", "END:VEVENT"];
  else if (kind < 16) body = [...VTZ, ...ev, `DTSTART;TZID=Europe/Berlin:${start}`, `DTEND;TZID=Europe/Berlin:${end}`, "RRULE:FREQ=WEEKLY;BYDAY=MO,TU", "END:VEVENT"];
  else if (kind < 18) body = [...ev, `DTSTART;TZID=America/New_York:${start}`, `DTEND;TZID=America/New_York:${end}`, "RRULE:FREQ=DAILY;COUNT=30", `EXDATE;TZID=America/New_York:${start}`, "END:VEVENT"];
  else if (kind < 19) body = [...ev, `DTSTART;VALUE=DATE:2026${pad(month)}${pad(day)}`, "END:VEVENT"];
  else
    body = [
      ...ev, `DTSTART:${start}Z`, `DTEND:${end}Z`, "RRULE:FREQ=WEEKLY;COUNT=10", "END:VEVENT",
      "BEGIN:VEVENT", `UID:bench-${i}@example.org`, "DTSTAMP:20260101T000000Z", `RECURRENCE-ID;RANGE=THISANDFUTURE:2026${pad(month)}${pad(day)}T${pad(hour)}0000Z`, `DTSTART:2026${pad(month)}${pad(day)}T${pad(hour)}3000Z`, `DTEND:${end}Z`, "SUMMARY:moved", "END:VEVENT",
    ];
  return { id: `bench-${i}.ics`, ics: [...head, ...body, "END:VCALENDAR", ""].join("\r\n") };
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** CPU time (user + system, ms) and wall time (ms) of `f`. */
function measure(f: () => void): { cpu: number; wall: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000, wall };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The machine is shared (two cores, other work running): each figure is the
 * median of ROUNDS rounds that alternate floor, 31-day and 24 h runs, and it
 * is CPU time (process.cpuUsage), which waiting for a core does not inflate.
 * Wall-time medians are in the notes.
 */
const ROUNDS = 5;

export default async function run(): Promise<BenchRow[]> {
  const objects = Array.from({ length: N }, (_, i) => object(i));
  const bytes = objects.reduce((n, o) => n + o.ics.length, 0);
  const ctx = { resource: "bench", timezone: "Europe/Berlin", users };
  const month = { start: new Date("2026-03-01T00:00:00Z"), end: new Date("2026-04-01T00:00:00Z") };
  const day = { start: new Date("2026-03-10T00:00:00Z"), end: new Date("2026-03-11T00:00:00Z") };

  // Warm-up (JIT, zone tables) on the whole calendar once, as a running Worker would be.
  expandCalendar(objects, ctx, month);
  for (const o of objects) ICAL.parse(o.ics);

  const floor: Array<{ cpu: number; wall: number }> = [];
  const monthRuns: typeof floor = [];
  const dayRuns: typeof floor = [];
  let monthCount = 0;
  let dayCount = 0;
  for (let r = 0; r < ROUNDS; r++) {
    gc();
    floor.push(measure(() => {
      for (const o of objects) ICAL.parse(o.ics);
    }));
    gc();
    monthRuns.push(measure(() => {
      const res = expandCalendar(objects, ctx, month);
      if (res.errors.length) throw new Error(`bench calendar has invalid objects: ${res.errors[0]!.message}`);
      monthCount = res.reservations.length;
    }));
    gc();
    dayRuns.push(measure(() => {
      dayCount = expandCalendar(objects, ctx, day).reservations.length;
    }));
  }
  const floorMs = median(floor.map((m) => m.cpu));
  const monthMs = median(monthRuns.map((m) => m.cpu));
  const dayMs = median(dayRuns.map((m) => m.cpu));
  const wall = (runs: typeof floor) => `wall ${median(runs.map((m) => m.wall)).toFixed(0)} ms`;

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const res = expandCalendar(objects, ctx, month);
  gc();
  const heapDelta = process.memoryUsage().heapUsed - heapBefore;
  if (res.reservations.length !== monthCount) throw new Error("the 31-day result changed between runs");
  const peakRss = process.resourceUsage().maxRSS * 1024;

  const how = `CPU ms, median of ${ROUNDS} alternating rounds`;
  const note = `${N} objects, ${(bytes / 1e6).toFixed(1)} MB of ICS; ${how}; ${wall(floor)}`;
  return [
    { name: "ical.js bare parse (floor)", value: floorMs, unit: "ms", note },
    { name: "parse+expand, 31-day window", value: monthMs, unit: "ms", ratio: monthMs / floorMs, note: `${monthCount} reservations; ${wall(monthRuns)}` },
    { name: "parse+expand per object", value: (monthMs * 1000) / N, unit: "µs" },
    { name: "parse+expand, 24 h window", value: dayMs, unit: "ms", ratio: dayMs / floorMs, note: `${dayCount} reservations; ${wall(dayRuns)}` },
    { name: "heap kept by the 31-day result", value: heapDelta / 1e6, unit: "MB", note: (globalThis as { gc?: unknown }).gc ? "after gc" : "no --expose-gc: includes garbage" },
    { name: "peak RSS of the process", value: peakRss / 1e6, unit: "MB" },
  ];
}
