import ICAL from "ical.js";

/**
 * Time zones without a VTIMEZONE: bare IANA TZIDs (RFC 7809) and the lab's own
 * zone for floating and all-day times. ical.js ships no zone database, so these
 * zones answer ical.js's one question — "what is the UTC offset of this wall
 * clock time?" — from the runtime's Intl data, which Node and workerd both have.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(tzid: string): Intl.DateTimeFormat {
  let f = formatters.get(tzid);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tzid,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      era: "short",
    });
    formatters.set(tzid, f);
  }
  return f;
}

/** True when the runtime knows this IANA zone name. */
export function isKnownIanaZone(tzid: string): boolean {
  if (!tzid || tzid.length > 64) return false;
  try {
    formatterFor(tzid);
    return true;
  } catch {
    return false;
  }
}

export interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall clock of `zone` at the instant `ms`. */
export function wallAt(tzid: string, ms: number): Wall {
  const parts = formatterFor(tzid).formatToParts(new Date(ms));
  const w: Wall = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  let bc = false;
  for (const p of parts) {
    switch (p.type) {
      case "year": w.year = Number(p.value); break;
      case "month": w.month = Number(p.value); break;
      case "day": w.day = Number(p.value); break;
      case "hour": w.hour = Number(p.value); break;
      case "minute": w.minute = Number(p.value); break;
      case "second": w.second = Number(p.value); break;
      case "era": bc = p.value === "BC" || p.value === "B"; break;
    }
  }
  if (bc) w.year = 1 - w.year;
  return w;
}

function utcOfWall(w: Wall): number {
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  d.setUTCHours(w.hour, w.minute, w.second, 0);
  return d.getTime();
}

/**
 * Offsets come from a per-zone, per-year table of transitions: Intl is asked
 * about 60 times to build a year (samples every 15 days, then a binary search
 * to the second around each change), after which every lookup is plain
 * arithmetic. Expanding a weekly series from 1970 would otherwise cost
 * thousands of Intl calls.
 */
interface YearTable {
  /** Offset (seconds) at the start of the year, UTC. */
  first: number;
  /** Instants (ms) where the offset changes, and the offset from then on. */
  at: number[];
  offset: number[];
}

const tables = new Map<string, YearTable>();
const MIN_MS = Date.UTC(1900, 0, 1);
const MAX_MS = Date.UTC(2201, 0, 1) - 1;
const TABLES_MAX = 4096;

function intlOffset(tzid: string, ms: number): number {
  return Math.round((utcOfWall(wallAt(tzid, ms)) - ms) / 1000);
}

function yearTable(tzid: string, year: number): YearTable {
  const key = `${tzid}|${year}`;
  const hit = tables.get(key);
  if (hit) return hit;
  const from = Date.UTC(year, 0, 1);
  const to = Date.UTC(year + 1, 0, 1);
  const step = 15 * 86_400_000;
  const table: YearTable = { first: intlOffset(tzid, from), at: [], offset: [] };
  let prevMs = from;
  let prevOff = table.first;
  for (let t = Math.min(from + step, to); ; t = Math.min(t + step, to)) {
    const off = intlOffset(tzid, t);
    if (off !== prevOff) {
      // The change lies in (prevMs, t]: narrow it down to the second.
      let lo = prevMs;
      let hi = t;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (intlOffset(tzid, mid) === prevOff) lo = mid;
        else hi = mid;
      }
      table.at.push(hi);
      table.offset.push(off);
    }
    prevMs = t;
    prevOff = off;
    if (t >= to) break;
  }
  if (tables.size >= TABLES_MAX) {
    tables.clear();
    lastTable.clear();
  }
  tables.set(key, table);
  return table;
}

// Expansion walks forward in time, so the year asked for is nearly always the last one.
const lastTable = new Map<string, { from: number; to: number; table: YearTable }>();

/** UTC offset in seconds of `tzid` at the instant `ms`. */
export function offsetAt(tzid: string, ms: number): number {
  // Outside the years bookings live in, use the same day of a boundary year:
  // exact offsets there do not matter, and each new year costs ~60 Intl calls.
  if (ms > MAX_MS || ms < MIN_MS) {
    const y = new Date(ms).getUTCFullYear();
    if (!Number.isFinite(y)) return 0;
    const to = ms > MAX_MS ? 2200 : 1900;
    return offsetAt(tzid, ms - (Date.UTC(y, 0, 1) - Date.UTC(to, 0, 1)));
  }
  let last = lastTable.get(tzid);
  if (!last || ms < last.from || ms >= last.to) {
    const year = new Date(ms).getUTCFullYear();
    if (!Number.isFinite(year)) return 0;
    last = { from: Date.UTC(year, 0, 1), to: Date.UTC(year + 1, 0, 1), table: yearTable(tzid, year) };
    lastTable.set(tzid, last);
  }
  const t = last.table;
  let off = t.first;
  for (let i = 0; i < t.at.length && t.at[i]! <= ms; i++) off = t.offset[i]!;
  return off;
}

/**
 * The offset (seconds) to apply to a wall clock time of `tzid`.
 * RFC 5545 §3.3.5: a time in a DST gap is read with the offset from before
 * the gap (02:30 becomes 03:30 new time); a time that occurs twice is the
 * first of the two.
 */
export function offsetForWall(tzid: string, w: Wall): number {
  return rfcOffsetForWall((ms) => offsetAt(tzid, ms), w);
}

/** The RFC 5545 §3.3.5 reading of a wall clock time, for any zone that can say its offset at an instant. */
export function rfcOffsetForWall(offsetAtMs: (ms: number) => number, w: Wall): number {
  const asUtc = utcOfWall(w);
  const before = offsetAtMs(asUtc - 86_400_000);
  const after = offsetAtMs(asUtc + 86_400_000);
  if (before === after && offsetAtMs(asUtc - before * 1000) === before) return before;
  const fits = [before, after].filter((o) => offsetAtMs(asUtc - o * 1000) === o);
  if (fits.length === 0) return before; // in the gap
  return Math.max(...fits); // larger offset = earlier instant = first of a repeated hour
}

/**
 * Offsets already worked out, per zone, by wall clock time. ical.js asks for
 * the offset of the same few wall times over and over (every comparison of
 * a fresh or moved ICAL.Time, four of them per recurrence step); the answer
 * depends only on the zone's data and the wall time, so it is kept.
 */
export class WallOffsetMemo {
  #map = new Map<number, number>();
  /**
   * One bound for all zones together (50,000 entries, a few MB): with up to
   * 512 shared VTIMEZONE zones plus the IANA ones, a bound per zone would not
   * bound the Worker's memory. When it is reached, every memo starts over.
   */
  static readonly MAX = 50_000;
  static #entries = 0;
  static readonly #live = new Set<WallOffsetMemo>();

  /** Entries held by all memos together (never above MAX). */
  static get size(): number {
    return WallOffsetMemo.#entries;
  }

  /** A number, not a string: cheap to build and to hash. NaN when the fields cannot make a safe key. */
  static key(w: Wall): number {
    const key = ((((w.year * 13 + w.month) * 32 + w.day) * 25 + w.hour) * 61 + w.minute) * 62 + w.second;
    return Number.isSafeInteger(key) ? key : NaN;
  }

  get(key: number): number | undefined {
    return this.#map.get(key);
  }

  set(key: number, offset: number): number {
    if (Number.isNaN(key)) return offset;
    if (WallOffsetMemo.#entries >= WallOffsetMemo.MAX) {
      for (const m of WallOffsetMemo.#live) m.#map.clear();
      WallOffsetMemo.#live.clear();
      WallOffsetMemo.#entries = 0;
    }
    WallOffsetMemo.#live.add(this);
    this.#map.set(key, offset);
    WallOffsetMemo.#entries++;
    return offset;
  }
}

/** Instant (ms) of a wall clock time in `tzid`. */
export function wallToInstant(tzid: string, w: Wall): number {
  return utcOfWall(w) - offsetForWall(tzid, w) * 1000;
}

/** An ical.js zone backed by Intl, so ical.js arithmetic and comparisons just work. */
export class IntlZone extends ICAL.Timezone {
  readonly #memo = new WallOffsetMemo();

  constructor(tzid: string) {
    super({ tzid });
  }

  override utcOffset(tt: ICAL.Time): number {
    const key = WallOffsetMemo.key(tt);
    return this.#memo.get(key) ?? this.#memo.set(key, offsetForWall(this.tzid, tt));
  }

  override toString(): string {
    return this.tzid;
  }
}

interface IcalChange { year: number; month: number; day: number; hour: number; minute: number; second: number; utcOffset: number; prevUtcOffset: number }

/**
 * A zone from an object's own VTIMEZONE, read the RFC 5545 §3.3.5 way.
 * ical.js's own Timezone.utcOffset reads a time in the spring gap with the
 * new offset (02:30 becomes 01:30 old time, backwards) and a repeated hour as
 * its second pass; this one asks ical.js only for the transitions (its
 * `changes`, UTC instants) and reads wall times like IntlZone does.
 */
export class VtimezoneZone extends ICAL.Timezone {
  #at: number[] = [];
  #offset: number[] = [];
  #first = 0;
  #seen = -1;
  readonly #memo = new WallOffsetMemo();

  override utcOffset(tt: ICAL.Time): number {
    const key = WallOffsetMemo.key(tt);
    return this.#memo.get(key) ?? this.#memo.set(key, rfcOffsetForWall((ms) => this.offsetAtMs(ms), tt));
  }

  /** UTC offset (seconds) in force at the instant `ms`. */
  offsetAtMs(ms: number): number {
    const self = this as unknown as { changes: IcalChange[]; _ensureCoverage(year: number): void };
    const year = new Date(ms).getUTCFullYear();
    if (!Number.isFinite(year)) return 0;
    self._ensureCoverage(Math.min(Math.max(year + 1, 1900), 2201));
    const changes = self.changes;
    if (changes.length !== this.#seen) {
      this.#seen = changes.length;
      this.#at = changes.map((c) => Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, c.second));
      this.#offset = changes.map((c) => c.utcOffset);
      this.#first = changes[0]?.prevUtcOffset ?? 0;
    }
    // Last change at or before ms (changes are sorted by ical.js).
    let lo = 0;
    let hi = this.#at.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#at[mid]! <= ms) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? this.#first : this.#offset[lo - 1]!;
  }
}

const zones = new Map<string, IntlZone>();

/**
 * The Intl-backed zone for an IANA name, registered with ical.js's
 * TimezoneService so TZIDs without a VTIMEZONE resolve to it. Registering is
 * safe to share across calendars: the zone comes from the runtime's data, not
 * from any calendar's text (in-file VTIMEZONEs stay per object).
 */
export function intlZone(tzid: string): IntlZone | undefined {
  let z = zones.get(tzid);
  if (z) return z;
  if (!isKnownIanaZone(tzid)) return undefined;
  z = new IntlZone(tzid);
  zones.set(tzid, z);
  if (!ICAL.TimezoneService.has(tzid)) ICAL.TimezoneService.register(z, tzid);
  return z;
}

/** UTC as ical.js knows it (identity matters to ical.js). */
export const utcZone: ICAL.Timezone = ICAL.Timezone.utcTimezone;
