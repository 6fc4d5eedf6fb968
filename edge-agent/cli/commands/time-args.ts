import { durationProblem, tryParseDuration } from "../../../calendar/duration.ts";
import { UsageError } from "../main.ts";

/** Seconds, in calendar/duration.ts's grammar ("90", "90s", "30m", "2h", "1d", "1h30m", "PT2H"). */
export function parseDuration(text: string, what = "duration"): number {
  const s = tryParseDuration(text);
  if (s === undefined) throw new UsageError(`${what}: ${durationProblem(text)}`);
  return s;
}

/**
 * "18:00" (today, or tomorrow when already past), "2026-11-27 09:00" or an
 * ISO date-time with offset, in the machine's local zone unless an offset is given.
 */
export function parseWhen(text: string, now = new Date()): Date {
  const hm = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (hm) {
    const d = new Date(now);
    d.setHours(Number(hm[1]), Number(hm[2]), 0, 0);
    if (Number(hm[1]) > 23 || Number(hm[2]) > 59) throw new UsageError(`time "${text}" is not a time of day`);
    if (d.getTime() <= now.getTime()) d.setDate(d.getDate() + 1);
    return d;
  }
  const local = /^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2})$/.exec(text);
  const d = local ? new Date(`${local[1]}T${local[2]!.padStart(5, "0")}:00`) : new Date(text);
  if (Number.isNaN(d.getTime())) throw new UsageError(`time "${text}" is not like 18:00, "2026-11-27 09:00" or an ISO date-time`);
  return d;
}
