import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { NotFoundError } from "../../calendar/errors.ts";
import { stateAt, type Reservation } from "../../calendar/model.ts";
import type { Logger } from "../log.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";
import { conflictMarkerOf, mappingContext, mayCarryConflictMark, reservationsOf, type CalendarObject } from "./calendar-port.ts";
import { judge, spanOf, type Seen } from "./precedence.ts";
import { cacheWindow, DAY_MS, type LedgerState } from "./state.ts";

export type Row = Reservation & { objectId: string };

export interface ViewDeps {
  state: LedgerState;
  resource: string;
  lab(): LabConfig;
  log(): Logger;
  /** Persists verdict changes (non-blocking: Durable Object writes are output-gated). */
  persistSeen(changed: Map<string, Seen>, removed: string[]): void;
  /** Persists meta (the batch counter moved). */
  persistMeta(): void;
}

/**
 * The reservations of the cached calendar objects, with their verdicts.
 * Parsing is the CPU cost of a booking, so each object is parsed once per
 * etag and day over the whole cache window; verdicts are judged again only
 * when an object changed or the day turned (new occurrences enter the window).
 */
export class ReservationView {
  #parsed = new Map<string, { etag: string; day: number; rs: Reservation[] | null }>();
  #marks = new Map<string, boolean>();
  #markCandidates = new WeakMap<CalendarObject, boolean>();
  #judged: { version: number; day: number; losers: Map<string, string[]> } | undefined;
  /**
   * Objects new to the cache since the last verdict (null once anything
   * else changed: an edit, a removal, an unknown change).
   */
  #added: string[] | null = null;
  /** The same, since the sorted rows were last built. */
  #rowsAdded: string[] | null = null;
  /** Bumped on every change to the cached objects. */
  version = 0;

  constructor(private readonly d: ViewDeps) {}

  touched(id?: string): void {
    this.version++;
    if (id !== undefined && !this.d.state.objects.has(id)) this.#parsed.delete(id);
    // Every object a verdict or the sorted rows saw was parsed for them: one not in #parsed is new since.
    if (id === undefined || !this.d.state.objects.has(id) || this.#parsed.has(id)) {
      this.#added = null;
      this.#rowsAdded = null;
    } else {
      this.#added?.push(id);
      this.#rowsAdded?.push(id);
    }
  }

  /** Reservations touching [start, end), state as of now; losers are "conflict" with the winners they lost to. */
  reservations(start: number, end: number, now = Date.now()): Row[] {
    const losers = this.losers(now);
    return this.raw(start, end, now).map((r) => {
      const winners = losers.get(r.id);
      return winners ? { ...r, state: "conflict" as const, conflictWith: winners } : r;
    });
  }

  /** Judges the whole cache window when anything changed; verdict changes are persisted. */
  losers(now = Date.now()): Map<string, string[]> {
    const w = cacheWindow(now);
    if (this.#judged?.day === w.day) {
      if (this.#judged.version === this.version) return this.#judged.losers;
      if (this.#onlyClearGrantsAdded(now)) {
        this.#judged = { ...this.#judged, version: this.version };
        this.#added = [];
        return this.#judged.losers;
      }
    }
    let losers = new Map<string, string[]>();
    this.#added = [];
    try {
      // Unbooked-use events inform; they are no reservation and take no part in conflicts.
      const rs = this.raw(w.start, w.end, now).filter((r) => !isUnbookedUse(r));
      const meta = this.d.state.meta;
      const v = judge(rs, this.d.state.seen, meta.batch + 1, (r) => this.#markedLoser(r as Row));
      losers = v.losers;
      for (const [id, s] of v.changed) this.d.state.seen.set(id, s);
      for (const id of v.removed) this.d.state.seen.delete(id);
      if (v.usedBatch) {
        meta.batch += 1;
        this.d.persistMeta();
      }
      if (v.changed.size || v.removed.length) this.d.persistSeen(v.changed, v.removed);
    } catch (e) {
      this.d.log().warn("conflict resolution failed", { error: e });
      this.#added = null;
    }
    this.#judged = { version: this.version, day: w.day, losers };
    return losers;
  }

  /**
   * Whether judging again would only confirm the last verdict plus winners
   * for what was added since: the last verdict (this day) had no losers, so
   * everything standing then stands with won=true; nothing was edited or
   * removed since; and every reservation added is a grant (seen, won, same
   * span) that overlaps nothing it is incompatible with. judge() then
   * admits everything and changes no record, so a booking skips judging the
   * whole window again (a seventh of its CPU with a few hundred bookings).
   */
  #onlyClearGrantsAdded(now: number): boolean {
    if (!this.#added || this.#judged?.losers.size !== 0) return false;
    const sorted = this.#sortedRows(now);
    const seen = this.d.state.seen;
    const wide = cacheWindow(now);
    // Only the rows that can overlap an added one are looked at: a booking costs the same whether the window holds ten rows or thousands.
    for (const id of new Set(this.#added)) {
      const obj = this.d.state.objects.get(id);
      if (!obj) return false;
      for (const r of this.#parsedOf(obj, wide) ?? []) {
        if (isUnbookedUse(r)) return false;
        const s = seen.get(r.id);
        if (s?.won !== true || s.span !== spanOf(r)) return false;
        if ((sorted.ids.get(r.id) ?? 0) > 1) return false; // judge() keeps the first of two rows with one id
        const as = Date.parse(r.start);
        const ae = Date.parse(r.end);
        if (!(as < ae)) continue;
        const rows = sorted.rows;
        for (let i = firstReaching(rows, as - sorted.maxLen); i < rows.length && rows[i]!.s < ae; i++) {
          const b = rows[i]!;
          if (b.r === r || isUnbookedUse(b.r)) continue;
          const overlap = b.s < b.e && as < b.e;
          if (overlap && (r.exclusive || b.r.exclusive)) return false;
        }
      }
    }
    return true;
  }

  /**
   * Reservations without verdicts (objects that fail to parse are skipped and
   * logged once per etag). Within the cache window they come from one sorted
   * list kept per version and day: a booking reads the window several times
   * (rules, verdicts, its answer, the alarm, the schedule), each without
   * walking, copying and sorting every object again.
   */
  raw(start: number, end: number, now = Date.now()): Row[] {
    const wide = cacheWindow(now);
    if (start >= wide.start && end <= wide.end) {
      const { rows, maxLen } = this.#sortedRows(now);
      const at = new Date(now);
      const out: Row[] = [];
      // Sorted by start: no row starting before start - maxLen reaches start, none from end on begins before end.
      for (let i = firstReaching(rows, start - maxLen); i < rows.length; i++) {
        const x = rows[i]!;
        if (x.s >= end) break;
        if (x.e > start) out.push({ ...x.r, state: stateAt(x.r, at), objectId: x.objectId });
      }
      return out;
    }
    return this.#rawWalk(start, end, now);
  }

  #rows: SortedRows | undefined;

  /**
   * Every reservation of the cache window, sorted by start then id, with
   * start and end as numbers, the longest span among them and how many rows
   * carry each id (what bounds the scans above).
   */
  #sortedRows(now: number): SortedRows {
    const wide = cacheWindow(now);
    if (this.#rows?.day === wide.day) {
      if (this.#rows.version === this.version) return this.#rows;
      // Only new objects since (a booking): their rows go in where they belong, the rest stays sorted.
      if (this.#rowsAdded) {
        const rows = this.#rows.rows.slice();
        // Shared with the rows this replaces, which nobody reads after: the view is used synchronously.
        const ids = this.#rows.ids;
        let maxLen = this.#rows.maxLen;
        for (const id of new Set(this.#rowsAdded)) {
          const obj = this.d.state.objects.get(id)!;
          for (const r of this.#parsedOf(obj, wide) ?? []) {
            const row = { r, objectId: id, s: Date.parse(r.start), e: Date.parse(r.end) };
            // After every equal row, as the stable sort below puts an object added last.
            let lo = 0;
            let hi = rows.length;
            while (lo < hi) {
              const mid = (lo + hi) >> 1;
              if (byStart(rows[mid]!, row) <= 0) lo = mid + 1;
              else hi = mid;
            }
            rows.splice(lo, 0, row);
            ids.set(r.id, (ids.get(r.id) ?? 0) + 1);
            maxLen = Math.max(maxLen, row.e - row.s);
          }
        }
        this.#rows = { version: this.version, day: wide.day, rows, maxLen, ids };
        this.#rowsAdded = [];
        return this.#rows;
      }
    }
    const rows: SortedRow[] = [];
    const ids = new Map<string, number>();
    let maxLen = 0;
    for (const obj of this.d.state.objects.values()) {
      for (const r of this.#parsedOf(obj, wide) ?? []) {
        const row = { r, objectId: obj.id, s: Date.parse(r.start), e: Date.parse(r.end) };
        rows.push(row);
        ids.set(r.id, (ids.get(r.id) ?? 0) + 1);
        maxLen = Math.max(maxLen, row.e - row.s);
      }
    }
    rows.sort(byStart);
    this.#rows = { version: this.version, day: wide.day, rows, maxLen, ids };
    this.#rowsAdded = [];
    return this.#rows;
  }

  /** One object's reservations over the cache window, parsed once per etag and day. */
  #parsedOf(obj: CalendarObject, wide: ReturnType<typeof cacheWindow>): Reservation[] | null {
    const hit = this.#parsed.get(obj.id);
    if (hit && hit.etag === obj.etag && hit.day === wide.day) return hit.rs;
    let rs: Reservation[] | null;
    try {
      rs = reservationsOf(obj, { start: new Date(wide.start), end: new Date(wide.end) }, mappingContext(this.d.lab(), this.d.resource));
    } catch (e) {
      if (hit?.etag !== obj.etag) this.d.log().warn("calendar object skipped", { objectId: obj.id, error: e });
      rs = null;
    }
    this.#parsed.set(obj.id, { etag: obj.etag, day: wide.day, rs });
    return rs;
  }

  /** Outside the cache window: every object parsed for that span (not cached). */
  #rawWalk(start: number, end: number, now: number): Row[] {
    const ctx = mappingContext(this.d.lab(), this.d.resource);
    const wide = cacheWindow(now);
    const cacheable = start >= wide.start && end <= wide.end;
    const out: Row[] = [];
    for (const obj of this.d.state.objects.values()) {
      let rs: Reservation[] | null;
      const hit = this.#parsed.get(obj.id);
      if (cacheable && hit && hit.etag === obj.etag && hit.day === wide.day) rs = hit.rs;
      else {
        const window = cacheable ? { start: new Date(wide.start), end: new Date(wide.end) } : { start: new Date(start), end: new Date(end) };
        try {
          rs = reservationsOf(obj, window, ctx);
        } catch (e) {
          if (hit?.etag !== obj.etag) this.d.log().warn("calendar object skipped", { objectId: obj.id, error: e });
          rs = null;
        }
        if (cacheable) this.#parsed.set(obj.id, { etag: obj.etag, day: wide.day, rs });
      }
      for (const r of rs ?? []) if (Date.parse(r.start) < end && Date.parse(r.end) > start) out.push({ ...r, state: stateAt(r, new Date(now)), objectId: obj.id });
    }
    return out.sort((a, b) => Date.parse(a.start) - Date.parse(b.start) || a.id.localeCompare(b.id));
  }

  /**
   * The reservations one object yields over the cache window (a just-written
   * booking). Kept as the object's parse for its etag, so the reads that
   * follow the write (conflict verdicts, the answer) do not parse it again.
   */
  ofObject(obj: CalendarObject, now = Date.now()): Reservation[] {
    const w = cacheWindow(now);
    const rs = reservationsOf(obj, { start: new Date(w.start), end: new Date(w.end) }, mappingContext(this.d.lab(), this.d.resource));
    if (this.d.state.objects.get(obj.id)?.etag === obj.etag) this.#parsed.set(obj.id, { etag: obj.etag, day: w.day, rs });
    return rs;
  }

  find(id: string): Row {
    const now = Date.now();
    const near = (from: number, to: number) => this.reservations(from, to).find((r) => r.id === id || r.uid === id);
    const hit = near(now - 30 * DAY_MS, now + 390 * DAY_MS) ?? near(now - 3 * 366 * DAY_MS, now + 5 * 366 * DAY_MS);
    if (!hit) throw new NotFoundError(`no reservation ${id} on ${this.d.resource}`, { resource: this.d.resource, id });
    return hit;
  }

  /** Whether the calendar carries labhog's conflict mark for this reservation (a tie-break after storage loss). */
  #markedLoser(r: Row): boolean {
    const obj = this.d.state.objects.get(r.objectId);
    if (!obj) return false;
    return this.marked(obj, r.recurrenceId);
  }

  /**
   * Whether labhog's conflict mark is on the event. The sync asks about every
   * event in the conflict horizon and a full verdict about every one in the
   * window, so the look for the mark's name is kept per object (a new object
   * on every change, so nothing goes stale), and only events that carry it
   * are parsed (cached per etag).
   */
  marked(obj: CalendarObject, recurrenceId: string | undefined): boolean {
    let candidate = this.#markCandidates.get(obj);
    if (candidate === undefined) this.#markCandidates.set(obj, (candidate = mayCarryConflictMark(obj.ics)));
    if (!candidate) return false;
    const key = `${obj.id}\u0000${obj.etag}\u0000${recurrenceId ?? ""}`;
    let m = this.#marks.get(key);
    if (m === undefined) {
      try {
        m = conflictMarkerOf(obj.ics, recurrenceId, this.d.lab().timezone);
      } catch {
        m = false;
      }
      if (this.#marks.size > 10_000) this.#marks.clear();
      this.#marks.set(key, m);
    }
    return m;
  }
}

interface SortedRow {
  r: Reservation;
  objectId: string;
  s: number;
  e: number;
}

interface SortedRows {
  version: number;
  day: number;
  rows: SortedRow[];
  /** The longest end - start among the rows (0 when none is longer). */
  maxLen: number;
  /** Rows per reservation id. */
  ids: Map<string, number>;
}

/** The first index whose row starts at or after `t` (rows sorted by start). */
function firstReaching(rows: readonly SortedRow[], t: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid]!.s < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function byStart(a: { r: Reservation; s: number }, b: { r: Reservation; s: number }): number {
  return a.s - b.s || a.r.id.localeCompare(b.r.id);
}

export function strip(r: Reservation & { objectId?: string }): Reservation {
  const { objectId: _omit, ...rest } = r;
  return rest;
}
