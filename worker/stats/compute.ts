import type { Reservation } from "../../calendar/model.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";

/**
 * Usage statistics over a window, computed from what the calendars say
 * (reservations with their X-LABHOG-USAGE), pure and in one pass per
 * resource. The rules, so a table can be checked by hand:
 * - booked: the time covered by reservations, clipped to the window; where
 *   reservations of one group overlap on a resource (a shared booking) the
 *   time counts once. Conflict losers book nothing; unbooked-use events are
 *   no bookings.
 * - used: the use tallied into each reservation (`used.s`, spread evenly
 *   between `used.first` and `used.last` when the reservation straddles the
 *   window edge), plus unbooked use.
 * - idle: booked time already past (up to now) minus the use tallied into
 *   those bookings, never below zero.
 * - unbooked: the time covered by "unbooked use" events, up to now.
 * - no-shows: reservations released as no-shows (`noShow` in their usage)
 *   that start in the window.
 * - utilisation: used / capacity, where capacity is the window's length
 *   times the group's resources (by user: the window's length).
 */
import type { StatsBy, StatsResult, StatsRow } from "../../calendar/stats.ts";
export type { StatsBy, StatsResult, StatsRow };

export interface StatsInput {
  from: number;
  to: number;
  now: number;
  by: StatsBy;
  /** Every resource of the lab, with its pool. */
  resources: ReadonlyArray<{ id: string; pool?: string }>;
  /** Reservations of those resources touching the window (Reservation.resource says whose). */
  reservations: readonly Reservation[];
}

export const NO_POOL = "(no pool)";
export const UNKNOWN_HOLDER = "(unknown)";

interface Acc {
  booked: number;
  bookedPast: number;
  usedBooked: number;
  /** Tallied use up to now: what idle is measured against. */
  usedPast: number;
  unbooked: number;
  noShows: number;
  reservations: number;
  resources: Set<string>;
}

const newAcc = (): Acc => ({ booked: 0, bookedPast: 0, usedBooked: 0, usedPast: 0, unbooked: 0, noShows: 0, reservations: 0, resources: new Set() });

type Span = [number, number];

/** Total length of the union of spans (ms). */
function unionLength(spans: Span[]): number {
  if (spans.length === 0) return 0;
  spans.sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [s, e] = spans[0]!;
  for (const [a, b] of spans.slice(1)) {
    if (a > e) {
      total += e - s;
      [s, e] = [a, b];
    } else if (b > e) e = b;
  }
  return total + (e - s);
}

const clip = (s: number, e: number, from: number, to: number): Span | null => {
  const a = Math.max(s, from);
  const b = Math.min(e, to);
  return b > a ? [a, b] : null;
};

const record = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** Seconds of tallied use that fall into the window (ms). */
export function usedInWindow(usage: unknown, from: number, to: number): number {
  const used = record(record(usage)?.used);
  const s = typeof used?.s === "number" && Number.isFinite(used.s) && used.s > 0 ? used.s : 0;
  if (!s) return 0;
  const first = Date.parse(String(used!.first));
  const last = Date.parse(String(used!.last));
  if (!Number.isFinite(first) || !Number.isFinite(last)) return 0;
  if (last <= first) return first >= from && first < to ? s : 0;
  const inside = Math.max(0, Math.min(last, to) - Math.max(first, from));
  return (s * inside) / (last - first);
}

export const isNoShow = (r: Pick<Reservation, "usage">): boolean => record(record(r.usage)?.noShow) !== undefined || record(r.usage)?.noShow === true;

export function computeStats(input: StatsInput): StatsResult {
  const { from, to, now, by } = input;
  const past = Math.min(to, Math.max(from, now));
  const poolOf = new Map(input.resources.map((r) => [r.id, r.pool ?? NO_POOL]));
  const byResource = new Map<string, Reservation[]>();
  for (const r of input.reservations) {
    if (!poolOf.has(r.resource)) continue;
    const list = byResource.get(r.resource);
    if (list) list.push(r);
    else byResource.set(r.resource, [r]);
  }
  const groups = new Map<string, Acc>();
  const acc = (g: string) => {
    let a = groups.get(g);
    if (!a) groups.set(g, (a = newAcc()));
    return a;
  };
  if (by === "resource") for (const r of input.resources) acc(r.id).resources.add(r.id);
  if (by === "pool") for (const r of input.resources) acc(r.pool ?? NO_POOL).resources.add(r.id);
  const total = newAcc();
  for (const r of input.resources) total.resources.add(r.id);

  const keyOf = (r: Reservation): string => (by === "resource" ? r.resource : by === "pool" ? poolOf.get(r.resource)! : (r.holder.id ?? UNKNOWN_HOLDER));
  for (const [resource, rs] of byResource) {
    // Per group on this resource: spans booked, spans booked already past, spans of unbooked use.
    const per = new Map<string, { booked: Span[]; past: Span[]; unbooked: Span[] }>();
    const all = { booked: [] as Span[], past: [] as Span[], unbooked: [] as Span[] };
    const spansOf = (k: string) => {
      let p = per.get(k);
      if (!p) per.set(k, (p = { booked: [], past: [], unbooked: [] }));
      return p;
    };
    for (const r of rs) {
      if (r.state === "conflict") continue;
      const s = Date.parse(r.start);
      const e = Date.parse(r.end);
      const k = keyOf(r);
      const a = acc(k);
      a.resources.add(resource);
      const p = spansOf(k);
      if (isUnbookedUse(r)) {
        const u = clip(s, e, from, past);
        if (u) {
          p.unbooked.push(u);
          all.unbooked.push(u);
        }
        continue;
      }
      const b = clip(s, e, from, to);
      if (!b) continue;
      a.reservations += 1;
      total.reservations += 1;
      p.booked.push(b);
      all.booked.push([...b]);
      const bp = clip(s, e, from, past);
      if (bp) {
        p.past.push(bp);
        all.past.push([...bp]);
      }
      const used = usedInWindow(r.usage, from, to);
      a.usedBooked += used;
      total.usedBooked += used;
      const usedPast = past > from ? usedInWindow(r.usage, from, past) : 0;
      a.usedPast += usedPast;
      total.usedPast += usedPast;
      if (isNoShow(r) && s >= from && s < to) {
        a.noShows += 1;
        total.noShows += 1;
      }
    }
    for (const [k, p] of per) {
      const a = acc(k);
      a.booked += unionLength(p.booked) / 1000;
      a.bookedPast += unionLength(p.past) / 1000;
      a.unbooked += unionLength(p.unbooked) / 1000;
    }
    total.booked += unionLength(all.booked) / 1000;
    total.bookedPast += unionLength(all.past) / 1000;
    total.unbooked += unionLength(all.unbooked) / 1000;
  }

  const windowS = (to - from) / 1000;
  const row = (group: string, a: Acc): StatsRow => {
    const resources = by === "user" && a !== total ? 1 : Math.max(1, a.resources.size);
    const used = a.usedBooked + a.unbooked;
    return {
      group,
      resources,
      bookedHours: hours(a.booked),
      usedHours: hours(used),
      idleHours: hours(Math.max(0, a.bookedPast - a.usedPast)),
      unbookedHours: hours(a.unbooked),
      noShows: a.noShows,
      utilisation: windowS > 0 ? Math.round((used / (windowS * resources)) * 1000) / 10 : 0,
      reservations: a.reservations,
    };
  };
  const rows = [...groups].map(([g, a]) => row(g, a)).sort((x, y) => x.group.localeCompare(y.group));
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), by, groups: rows, total: row("total", total) };
}

const hours = (seconds: number): number => Math.round((seconds / 3600) * 100) / 100;
