import { isKnownIanaZone, wallAt, wallToInstant, type Wall } from "../../ical/zones.ts";

/**
 * Google speaks instants plus an IANA `timeZone`; iCalendar speaks local times
 * with a TZID. The wall-clock ⇄ instant conversion is the mapping's own
 * (calendar/ical/zones.ts, Intl-backed, DST gaps pushed forward, the earlier
 * instant in an overlap); this file only adapts it and formats the strings.
 */

export type WallTime = Wall;

export const isKnownZone = (zone: string): boolean => isKnownIanaZone(zone);

export function isUtcZone(zone: string | undefined | null): boolean {
  return !zone || /^(utc|etc\/utc|gmt|etc\/gmt|z)$/i.test(zone);
}

export const wallTimeIn = (ms: number, zone: string): WallTime => wallAt(zone, ms);

/** The instant a wall time in `zone` denotes. */
export const instantOf = (w: WallTime, zone: string): number => wallToInstant(zone, w);

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** `YYYYMMDDTHHMMSS` (no zone designator). */
export function icalLocal(w: WallTime): string {
  return `${pad(w.year, 4)}${pad(w.month)}${pad(w.day)}T${pad(w.hour)}${pad(w.minute)}${pad(w.second)}`;
}

/** `YYYYMMDDTHHMMSSZ` of an instant. */
export function icalUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** RFC 3339 in UTC without fractional seconds, the way Google writes instants. */
export function rfc3339Utc(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
