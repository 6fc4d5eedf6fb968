/**
 * Wall-clock ⇄ instant conversion for IANA zones with Intl only (no tz data
 * of our own, Web-standard so it runs in workerd). Google speaks instants plus
 * an IANA `timeZone`; iCalendar speaks local times with a TZID.
 */

export interface WallTime {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, f);
  }
  return f;
}

export function isKnownZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

export function isUtcZone(zone: string | undefined | null): boolean {
  return !zone || /^(utc|etc\/utc|gmt|etc\/gmt|z)$/i.test(zone);
}

export function wallTimeIn(ms: number, zone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour! % 24,
    minute: parts.minute!,
    second: parts.second!,
  };
}

function wallAsUtc(w: WallTime): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
}

/** Offset of `zone` from UTC at instant `ms`, in ms. */
function offsetAt(ms: number, zone: string): number {
  return wallAsUtc(wallTimeIn(ms, zone)) - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant a wall time in `zone` denotes. In a DST gap the time is pushed
 * forward (like RFC 5545 §3.3.5 asks); in an overlap the earlier instant wins.
 */
export function instantOf(w: WallTime, zone: string): number {
  const guess = wallAsUtc(w);
  const o1 = offsetAt(guess - offsetAt(guess, zone), zone);
  const first = guess - o1;
  const o2 = offsetAt(first, zone);
  if (o2 === o1) {
    // Overlap: an earlier instant with the other offset may show the same wall time.
    const earlier = guess - offsetAt(first - 3_600_000, zone);
    if (earlier < first && wallAsUtc(wallTimeIn(earlier, zone)) === guess) return earlier;
    return first;
  }
  // Gap: read the wall time with the offset from before the transition.
  return guess - Math.min(o1, o2);
}

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
