import type { ScheduleEntry, ScheduleNotice } from "../../../calendar/schedule/schedule.ts";
import { printable } from "./printable.ts";

const hhmm = (iso: string) => new Date(iso).toISOString().slice(11, 16);

/** Entries that touch the UTC day of `now`. */
export function todays(entries: readonly ScheduleEntry[], now: Date): ScheduleEntry[] {
  const day = now.toISOString().slice(0, 10);
  const start = Date.parse(`${day}T00:00:00Z`);
  const end = start + 86_400_000;
  return entries.filter((e) => Date.parse(e.start) < end && Date.parse(e.end) > start).sort((a, b) => a.start.localeCompare(b.start));
}

/** Notices that have not ended at `now`. */
export function standing(notices: readonly ScheduleNotice[], now: Date): ScheduleNotice[] {
  return notices.filter((n) => Date.parse(n.until) > now.getTime());
}

/** A notice as one line for terminals (motd, wall, tmux). */
export function noticeLine(resource: string, n: ScheduleNotice): string {
  return `NOTICE for ${resource} from ${printable(n.by, 64)} (until ${n.until.slice(0, 10)} ${hhmm(n.until)} UTC): ${printable(n.text, 500)}`;
}

export function motdText(resource: string, entries: readonly ScheduleEntry[], now: Date, statusUrl?: string, notices: readonly ScheduleNotice[] = []): string {
  const today = todays(entries, now);
  const lines = [...standing(notices, now).map((n) => `labhog: ${noticeLine(resource, n)}`), `labhog: reservations of ${resource} today (${now.toISOString().slice(0, 10)}, times UTC)`];
  if (!today.length) lines.push("  none — the host is free");
  for (const e of today) {
    const cur = Date.parse(e.start) <= now.getTime() && now.getTime() < Date.parse(e.end);
    lines.push(`  ${hhmm(e.start)}–${hhmm(e.end)}  ${printable(e.holder.id)}${e.exclusive ? "" : " (shared)"}${cur ? "  <- now" : ""}`);
  }
  if (statusUrl) lines.push(`  details: ${statusUrl}`);
  return lines.join("\n") + "\n";
}
