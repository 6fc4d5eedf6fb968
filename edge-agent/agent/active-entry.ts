import type { Schedule, ScheduleEntry } from "../../calendar/schedule/schedule.ts";

export type ExpiryPolicy = "keep" | "release";

/**
 * The reservation to enforce at `now`: an exclusive one first, else a shared
 * one (announced, not hogged). After validUntil with no newer schedule, the
 * lab's policy decides: keep enforcing the entries known, or release.
 */
export function activeEntry(s: Schedule | undefined, now: number, policy: ExpiryPolicy): ScheduleEntry | null {
  if (!s) return null;
  if (policy === "release" && now >= Date.parse(s.validUntil)) return null;
  const current = s.entries.filter((e) => Date.parse(e.start) <= now && now < Date.parse(e.end));
  current.sort((a, b) => Number(b.exclusive) - Number(a.exclusive) || Date.parse(a.start) - Date.parse(b.start) || a.id.localeCompare(b.id));
  return current[0] ?? null;
}

/** The next instant after `now` when something may change (start, end, reminder, expiry). */
export function nextBoundary(s: Schedule | undefined, now: number, endingSoonMs: number): number | undefined {
  if (!s) return undefined;
  let next = Infinity;
  const consider = (t: number) => { if (t > now && t < next) next = t; };
  for (const e of s.entries) {
    consider(Date.parse(e.start));
    consider(Date.parse(e.end));
    consider(Date.parse(e.end) - endingSoonMs);
  }
  consider(Date.parse(s.validUntil));
  return next === Infinity ? undefined : next;
}
