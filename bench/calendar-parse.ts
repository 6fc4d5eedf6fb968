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

export default async function run(): Promise<BenchRow[]> {
  const objects = Array.from({ length: N }, (_, i) => object(i));
  const bytes = objects.reduce((n, o) => n + o.ics.length, 0);
  const ctx = { resource: "bench", timezone: "Europe/Berlin", users };
  const month = { start: new Date("2026-03-01T00:00:00Z"), end: new Date("2026-04-01T00:00:00Z") };
  const day = { start: new Date("2026-03-10T00:00:00Z"), end: new Date("2026-03-11T00:00:00Z") };

  // Warm-up (JIT, zone tables) on a slice, as a running Worker would be.
  expandCalendar(objects.slice(0, 500), ctx, month);
  for (const o of objects.slice(0, 500)) ICAL.parse(o.ics);

  let t0 = performance.now();
  for (const o of objects) ICAL.parse(o.ics);
  const floorMs = performance.now() - t0;

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  t0 = performance.now();
  const res = expandCalendar(objects, ctx, month);
  const monthMs = performance.now() - t0;
  gc();
  const heapDelta = process.memoryUsage().heapUsed - heapBefore;
  if (res.errors.length) throw new Error(`bench calendar has invalid objects: ${res.errors[0]!.message}`);

  t0 = performance.now();
  const resDay = expandCalendar(objects, ctx, day);
  const dayMs = performance.now() - t0;
  const peakRss = process.resourceUsage().maxRSS * 1024;

  const note = `${N} objects, ${(bytes / 1e6).toFixed(1)} MB of ICS`;
  return [
    { name: "ical.js bare parse (floor)", value: floorMs, unit: "ms", note },
    { name: "parse+expand, 31-day window", value: monthMs, unit: "ms", ratio: monthMs / floorMs, note: `${res.reservations.length} reservations` },
    { name: "parse+expand per object", value: (monthMs * 1000) / N, unit: "µs" },
    { name: "parse+expand, 24 h window", value: dayMs, unit: "ms", ratio: dayMs / floorMs, note: `${resDay.reservations.length} reservations` },
    { name: "heap kept by the 31-day result", value: heapDelta / 1e6, unit: "MB", note: (globalThis as { gc?: unknown }).gc ? "after gc" : "no --expose-gc: includes garbage" },
    { name: "peak RSS of the process", value: peakRss / 1e6, unit: "MB" },
  ];
}
