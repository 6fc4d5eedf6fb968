/**
 * What the agent tells the world about one resource: is the booking in place
 * on this host, and if not, why. `ok` is true only when every driver
 * succeeded in the latest attempt; a resource the agent has not tried yet has
 * no Enforcement at all (unknown is never shown as ok).
 */
export interface Enforcement {
  ok: boolean;
  /** `<driver>: <what failed>`, empty when ok. */
  problems: string[];
  /** When `ok` took its current value. */
  since: string;
  /** The latest attempt (or failure reported between attempts). */
  at: string;
  /** What the agent is enforcing. */
  state: "held" | "shared" | "free" | "not-served";
  reservation?: string;
  holder?: string;
  /** When the enforced reservation ends. */
  end?: string;
  /** Failed attempts in a row (0 when ok). */
  failures: number;
  /** When the next attempt runs, while failing. */
  retryAt?: string;
}

export const RETRY_MIN_MS = 1_000;
export const RETRY_MAX_MS = 60_000;

/** Backoff after the n-th failed attempt in a row (n ≥ 1): 1 s, 2 s, 4 s … capped at 60 s. */
export function retryDelayMs(failures: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

export interface Verdict {
  problems: string[];
  state: Enforcement["state"];
  reservation?: string;
  holder?: string;
  end?: string;
  failures: number;
  retryInMs?: number;
}

/** The next Enforcement: `since` moves only when ok flips. */
export function nextEnforcement(prev: Enforcement | null, v: Verdict, now: number): Enforcement {
  const ok = v.problems.length === 0;
  const at = new Date(now).toISOString();
  return {
    ok,
    problems: [...new Set(v.problems)],
    since: prev && prev.ok === ok ? prev.since : at,
    at,
    state: v.state,
    ...(v.reservation !== undefined ? { reservation: v.reservation } : {}),
    ...(v.holder !== undefined ? { holder: v.holder } : {}),
    ...(v.end !== undefined ? { end: v.end } : {}),
    failures: ok ? 0 : v.failures,
    ...(!ok && v.retryInMs !== undefined ? { retryAt: new Date(now + v.retryInMs).toISOString() } : {}),
  };
}
