import { stateAt, type Reservation } from "./model.ts";

/**
 * Conflict detection (design: "Conflicts").
 *
 * Reservations are admitted one by one in precedence order. The order is
 * the caller's: the ledger passes the order in which it first saw each
 * reservation (worker/ledger/precedence.ts), and comparePrecedence (CREATED,
 * then DTSTAMP, UID, id) only breaks ties between reservations seen at the
 * same time; it is also the default when no such order is known. One that
 * overlaps an admitted reservation it
 * is incompatible with loses: exclusive is incompatible with everything,
 * shared only with exclusive. A loser is left out of the schedule, so it
 * blocks nobody: with A < B < C in precedence, A overlapping B and B
 * overlapping C, only B loses.
 *
 * The input's own state is ignored ("conflict" included): a mark written on
 * an event earlier is output, never input, so nothing loses forever.
 *
 * O(n log n): endpoints are compressed, and admitted intervals live in two
 * segment trees (exclusive, shared) that answer "which admitted intervals
 * overlap [s, e)" in O(log n + k).
 */

const instant = (iso: string | undefined): number => {
  if (iso === undefined) return Number.POSITIVE_INFINITY;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
};

/**
 * Deterministic precedence: negative when `a` wins over `b`. Missing CREATED
 * falls back to DTSTAMP (the best estimate of when it was made); missing both
 * sorts after everything that has them.
 */
export function comparePrecedence(a: Reservation, b: Reservation): number {
  const ca = instant(a.created ?? a.dtstamp);
  const cb = instant(b.created ?? b.dtstamp);
  if (ca !== cb) return ca < cb ? -1 : 1;
  const da = instant(a.dtstamp);
  const db = instant(b.dtstamp);
  if (da !== db) return da < db ? -1 : 1;
  if (a.uid !== b.uid) return a.uid < b.uid ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}

/** Negative when `a` is admitted before `b`. */
export type PrecedenceOrder = (a: Reservation, b: Reservation) => number;

export function resolveConflicts(
  reservations: Reservation[],
  now: Date = new Date(),
  order: PrecedenceOrder = comparePrecedence,
): { reservations: Reservation[]; losers: Map<string, string[]> } {
  const losers = new Map<string, string[]>();
  const byResource = new Map<string, number[]>();
  reservations.forEach((r, i) => {
    let list = byResource.get(r.resource);
    if (!list) byResource.set(r.resource, (list = []));
    list.push(i);
  });
  const lostTo = new Map<number, string[]>();
  for (const idxs of byResource.values()) resolveOne(reservations, idxs, lostTo, order);

  const out = reservations.map((r, i) => {
    const winners = lostTo.get(i);
    if (winners) {
      losers.set(r.id, winners);
      return { ...r, state: "conflict" as const, conflictWith: winners };
    }
    const { conflictWith: _drop, ...rest } = r;
    void _drop;
    return { ...rest, state: r.state === "conflict" ? stateAt({ ...r, state: "upcoming" }, now) : r.state };
  });
  return { reservations: out, losers };
}

function resolveOne(all: Reservation[], idxs: number[], lostTo: Map<number, string[]>, cmp: PrecedenceOrder): void {
  const coords = [...new Set(idxs.flatMap((i) => [Date.parse(all[i]!.start), Date.parse(all[i]!.end)]))].sort((a, b) => a - b);
  const at = (t: number): number => {
    let lo = 0;
    let hi = coords.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (coords[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const segments = Math.max(coords.length - 1, 1);
  const exclusive = new IntervalTree(segments);
  const shared = new IntervalTree(segments);
  const order = [...idxs].sort((a, b) => cmp(all[a]!, all[b]!));
  for (const i of order) {
    const r = all[i]!;
    const s = Date.parse(r.start);
    const e = Date.parse(r.end);
    // Zero-length (or unreadable) spans overlap nothing and block nothing.
    if (!(s < e)) continue;
    const lo = at(s);
    const hi = at(e);
    const hits = new Set<number>();
    exclusive.collect(lo, hi, hits);
    if (r.exclusive) shared.collect(lo, hi, hits);
    if (hits.size > 0) {
      lostTo.set(i, [...hits].sort((a, b) => cmp(all[a]!, all[b]!)).map((j) => all[j]!.id));
    } else {
      (r.exclusive ? exclusive : shared).insert(lo, hi, i);
    }
  }
}

/**
 * Segment tree over elementary segments [0, n). Each stored interval sits on
 * its O(log n) canonical nodes; `has` marks subtrees that hold anything, so a
 * query only walks into subtrees that can answer.
 */
class IntervalTree {
  private readonly items: Array<number[] | undefined>;
  private readonly has: Uint8Array;
  constructor(private readonly n: number) {
    this.items = new Array(4 * n);
    this.has = new Uint8Array(4 * n);
  }

  insert(lo: number, hi: number, id: number): void {
    if (lo < hi) this.ins(1, 0, this.n, lo, hi, id);
  }

  private ins(node: number, l: number, r: number, lo: number, hi: number, id: number): void {
    this.has[node] = 1;
    if (lo <= l && r <= hi) {
      (this.items[node] ??= []).push(id);
      return;
    }
    const m = (l + r) >> 1;
    if (lo < m) this.ins(2 * node, l, m, lo, hi, id);
    if (hi > m) this.ins(2 * node + 1, m, r, lo, hi, id);
  }

  /** Adds to `out` every stored interval that overlaps [lo, hi). */
  collect(lo: number, hi: number, out: Set<number>): void {
    if (lo < hi) this.col(1, 0, this.n, lo, hi, out);
  }

  private col(node: number, l: number, r: number, lo: number, hi: number, out: Set<number>): void {
    if (!this.has[node]) return;
    const here = this.items[node];
    if (here) for (const id of here) out.add(id);
    if (r - l <= 1) return;
    const m = (l + r) >> 1;
    if (lo < m) this.col(2 * node, l, m, lo, hi, out);
    if (hi > m) this.col(2 * node + 1, m, r, lo, hi, out);
  }
}
