import type { Reservation } from "./model.ts";

/**
 * The earliest [start, start + duration) at or after `after` that a new
 * reservation could take: an exclusive one must avoid every reservation, a
 * shared one only exclusive ones. Reservations that lost a conflict are not
 * in the schedule and block nothing. There is always an answer (after the
 * last reservation).
 */
export function nextFreeSlot(existing: Reservation[], durationMs: number, after: Date, exclusive: boolean): { start: string; end: string } {
  if (!(durationMs >= 0) || !Number.isFinite(durationMs)) throw new RangeError("durationMs must be a non-negative number");
  const blockers = existing
    .filter((r) => r.state !== "conflict" && (exclusive || r.exclusive))
    .map((r) => ({ s: Date.parse(r.start), e: Date.parse(r.end) }))
    .filter((b) => b.s < b.e)
    .sort((a, b) => a.s - b.s);
  let candidate = after.getTime();
  for (const b of blockers) {
    if (b.e <= candidate) continue;
    if (b.s >= candidate + durationMs && durationMs > 0) break;
    if (durationMs === 0 && b.s > candidate) break;
    candidate = Math.max(candidate, b.e);
  }
  return { start: new Date(candidate).toISOString(), end: new Date(candidate + durationMs).toISOString() };
}
