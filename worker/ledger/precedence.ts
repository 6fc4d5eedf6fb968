import { comparePrecedence, resolveConflicts } from "../../calendar/conflicts.ts";
import type { Reservation } from "../../calendar/model.ts";

/**
 * Who wins an overlap: the reservation the ledger SAW FIRST. Pure: the
 * ledger keeps the `Seen` records in Durable Object storage and hands them in.
 *
 * - An API booking is seen when it is granted; an app event (or one
 *   occurrence of a series) in the sync that first brought it in. Every such
 *   moment is a "batch" number, increasing for the life of the ledger.
 * - Client-set CREATED/DTSTAMP/UID only order reservations of the same batch:
 *   clients back-date them (offline edits, imports, migrations), so they can't
 *   be trusted across batches.
 * - A reservation that stood non-conflicting at the last verdict is admitted
 *   before everything else, so no later arrival, and no winner leaving, can
 *   demote it. Standing losers come next, in the order they were seen, then
 *   new arrivals: a loser is freed only when what it lost to goes away.
 * - Moving or growing a reservation is a new arrival of that span; shrinking
 *   it keeps its standing (it can't overlap anything it didn't before).
 * - The conflict mark labhog wrote in the calendar never decides against
 *   the stored order. It only breaks ties within one batch, before CREATED:
 *   when the ledger's storage was lost, everything is seen again in one sync,
 *   and the marks are then the best record of the verdicts given before.
 */

/** What the ledger remembers per reservation id. */
export interface Seen {
  /** When it was first seen (in its current span): sync or grant number. */
  batch: number;
  /** `start|end|exclusive` in ms, as seen. */
  span: string;
  /** The last verdict: true = stood non-conflicting, false = lost, absent = never judged. */
  won?: boolean;
}

export function spanOf(r: Pick<Reservation, "start" | "end" | "exclusive">): string {
  return `${Date.parse(r.start)}|${Date.parse(r.end)}|${r.exclusive ? 1 : 0}`;
}

/** Whether `now` lies within `before` with the same exclusivity (a shortened reservation). */
function shrunk(before: string, now: string): boolean {
  const [s0, e0, x0] = before.split("|");
  const [s1, e1, x1] = now.split("|");
  return x0 === x1 && Number(s1) >= Number(s0) && Number(e1) <= Number(e0);
}

export interface Verdict {
  /** Losers and the winners they lost to. */
  losers: Map<string, string[]>;
  /** Seen records that are new or changed (to persist). */
  changed: Map<string, Seen>;
  /** Seen records of reservations no longer there (to delete). */
  removed: string[];
  /** Whether `batch` was used for a new arrival (the caller advances its counter). */
  usedBatch: boolean;
}

/**
 * Judges every reservation of one resource against `prior`. `batch` is the
 * number new arrivals get. Pass every reservation of the cached window: a
 * slice could decide chains differently.
 */
export function judge(rs: readonly Reservation[], prior: ReadonlyMap<string, Seen>, batch: number, markedLoser: (r: Reservation) => boolean = () => false): Verdict {
  const seen = new Map<string, Seen>();
  const changed = new Map<string, Seen>();
  let usedBatch = false;
  for (const r of rs) {
    if (seen.has(r.id)) continue;
    const span = spanOf(r);
    const p = prior.get(r.id);
    let s: Seen;
    if (p && p.span === span) s = p;
    else if (p && shrunk(p.span, span)) s = { ...p, span };
    else {
      s = { batch, span };
      usedBatch = true;
    }
    seen.set(r.id, s);
  }
  const rank = (r: Reservation) => seen.get(r.id)!;
  const marks = new Map<string, boolean>();
  const marked = (r: Reservation): boolean => {
    let m = marks.get(r.id);
    if (m === undefined) marks.set(r.id, (m = markedLoser(r)));
    return m;
  };
  const order = (a: Reservation, b: Reservation): number => {
    const sa = rank(a);
    const sb = rank(b);
    const ga = sa.won === true ? 0 : 1;
    const gb = sb.won === true ? 0 : 1;
    if (ga !== gb) return ga - gb;
    if (sa.batch !== sb.batch) return sa.batch - sb.batch;
    const ma = marked(a);
    const mb = marked(b);
    if (ma !== mb) return ma ? 1 : -1;
    return comparePrecedence(a, b);
  };
  const { losers } = resolveConflicts(rs as Reservation[], new Date(0), order);
  for (const [id, s] of seen) {
    const won = !losers.has(id);
    const next = s.won === won ? s : { ...s, won };
    if (next !== prior.get(id)) changed.set(id, next);
  }
  const removed = [...prior.keys()].filter((id) => !seen.has(id));
  return { losers, changed, removed, usedBatch };
}

/** The record of a reservation just granted through the API: it was checked against every standing reservation. */
export function granted(r: Pick<Reservation, "start" | "end" | "exclusive">, batch: number): Seen {
  return { batch, span: spanOf(r), won: true };
}
