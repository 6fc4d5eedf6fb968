/** Wall-clock helpers in the lab's zone (Intl only: the Worker has no tz database of its own). */
const DAY = 86_400_000;

const partsCache = new Map<string, Intl.DateTimeFormat>();
function partsFormat(tz: string): Intl.DateTimeFormat {
  let f = partsCache.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    partsCache.set(tz, f);
  }
  return f;
}

function wall(tz: string, ms: number): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const p = Object.fromEntries(partsFormat(tz).formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { y: +p.year!, mo: +p.month!, d: +p.day!, h: +p.hour! % 24, mi: +p.minute!, s: +p.second! };
}

/** Offset of the zone from UTC at an instant, in ms. */
function offsetAt(tz: string, ms: number): number {
  const w = wall(tz, ms);
  return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - Math.floor(ms / 1000) * 1000;
}

/** The instant of a wall-clock time in the zone (the earlier one in a DST fold). */
export function zonedToUtc(tz: string, y: number, mo: number, d: number, h = 0, mi = 0): number {
  const guess = Date.UTC(y, mo - 1, d, h, mi);
  // The offsets in force half a day either side cover any one transition.
  const candidates = [...new Set([offsetAt(tz, guess - 43_200_000), offsetAt(tz, guess + 43_200_000)])].map((off) => guess - off);
  const exact = candidates.filter((t) => offsetAt(tz, t) === guess - t).sort((a, b) => a - b);
  // In a gap (spring forward) no candidate is exact: the wall time is read with the earlier offset.
  return exact[0] ?? candidates[0]!;
}

/** Local midnight (in the zone) of the day holding `ms`, plus `days` days. */
export function startOfDay(tz: string, ms: number, days = 0): number {
  const w = wall(tz, ms);
  const base = new Date(Date.UTC(w.y, w.mo - 1, w.d + days));
  return zonedToUtc(tz, base.getUTCFullYear(), base.getUTCMonth() + 1, base.getUTCDate());
}

/** `datetime-local` value (YYYY-MM-DDTHH:MM) in the zone. */
export function toLocalInput(tz: string, ms: number): string {
  const w = wall(tz, ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${w.y}-${p(w.mo)}-${p(w.d)}T${p(w.h)}:${p(w.mi)}`;
}

/** Parses a `datetime-local` value as wall time in the zone; undefined when malformed. */
export function fromLocalInput(tz: string, v: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2})?$/.exec(v.trim());
  if (!m) return undefined;
  return zonedToUtc(tz, +m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!);
}

export function fmtTime(tz: string, ms: number): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit" }).format(new Date(ms));
}

export function fmtDay(tz: string, ms: number): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone: tz, weekday: "short", day: "numeric", month: "short" }).format(new Date(ms));
}

/** "14:30" today, "Fri 09:00" within a week, else "3 Dec 09:00". */
export function fmtWhen(tz: string, ms: number, now: number): string {
  if (ms >= startOfDay(tz, now) && ms < startOfDay(tz, now, 1)) return fmtTime(tz, ms);
  const weekday = new Intl.DateTimeFormat("en-GB", { timeZone: tz, weekday: "short" }).format(new Date(ms));
  if (Math.abs(ms - now) < 6 * DAY) return `${weekday} ${fmtTime(tz, ms)}`;
  return `${new Intl.DateTimeFormat("en-GB", { timeZone: tz, day: "numeric", month: "short" }).format(new Date(ms))} ${fmtTime(tz, ms)}`;
}

/** "just now", "4 min ago", "3 h ago", "2 d ago". */
export function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}
