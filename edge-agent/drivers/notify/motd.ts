import type { ScheduleEntry } from "../../../calendar/schedule/schedule.ts";
import { printable } from "./printable.ts";

const hhmm = (iso: string) => new Date(iso).toISOString().slice(11, 16);

/** Entries that touch the UTC day of `now`. */
export function todays(entries: readonly ScheduleEntry[], now: Date): ScheduleEntry[] {
  const day = now.toISOString().slice(0, 10);
  const start = Date.parse(`${day}T00:00:00Z`);
  const end = start + 86_400_000;
  return entries.filter((e) => Date.parse(e.start) < end && Date.parse(e.end) > start).sort((a, b) => a.start.localeCompare(b.start));
}

export function motdText(resource: string, entries: readonly ScheduleEntry[], now: Date, statusUrl?: string): string {
  const today = todays(entries, now);
  const lines = [`labhog: reservations of ${resource} today (${now.toISOString().slice(0, 10)}, times UTC)`];
  if (!today.length) lines.push("  none — the host is free");
  for (const e of today) {
    const cur = Date.parse(e.start) <= now.getTime() && now.getTime() < Date.parse(e.end);
    lines.push(`  ${hhmm(e.start)}–${hhmm(e.end)}  ${printable(e.holder.id)}${e.exclusive ? "" : " (shared)"}${cur ? "  <- now" : ""}`);
  }
  if (statusUrl) lines.push(`  details: ${statusUrl}`);
  return lines.join("\n") + "\n";
}
