import { UnavailableError } from "../../errors.ts";
import { GoogleRateLimitError } from "./google-errors.ts";

/**
 * Retries an operation on transient failures only (UnavailableError: 429,
 * 5xx, throttling 403, network errors), with exponential backoff and full
 * jitter; a server's Retry-After wins over our own delay. Everything else
 * (404, 409, 412, 401, …) is thrown at once: repeating it cannot help.
 */
export interface RetryPolicy {
  /** Total attempts including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is handed to the caller instead of slept through. */
  maxRetryAfterMs: number;
  /**
   * Backoff for rate-limit answers (429, 403 rateLimitExceeded): Google's
   * "Manage quotas" guide asks for exponential backoff starting around a
   * second, and its per-minute quotas use a sliding window, so quick
   * retries only prolong the throttling.
   */
  rateLimitBaseDelayMs: number;
  rateLimitMaxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
  rateLimitBaseDelayMs: 1_000,
  rateLimitMaxDelayMs: 16_000,
};

/** The wait before attempt `attempt + 1` when no Retry-After was sent: full jitter, at least half the step for rate limits. */
export function backoffMs(policy: RetryPolicy, e: UnavailableError, attempt: number, random: () => number = Math.random): number {
  if (e instanceof GoogleRateLimitError) {
    const step = Math.min(policy.rateLimitMaxDelayMs, policy.rateLimitBaseDelayMs * 2 ** (attempt - 1));
    return step / 2 + random() * (step / 2);
  }
  return random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface RetryHooks {
  signal?: AbortSignal;
  /** The call's total deadline (Date.now() ms, see ../deadline.ts): no backoff is started that would end past it. */
  deadlineAt?: number;
  onRetry?: (info: { attempt: number; delayMs: number; error: UnavailableError }) => void;
}

export async function withRetry<T>(policy: RetryPolicy, fn: () => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      // A spent budget is the call's answer (CalendarTimeoutError), not one more try.
      if (hooks.signal?.aborted) throw hooks.signal.reason;
      if (!(e instanceof UnavailableError) || attempt >= policy.attempts) throw e;
      let delayMs: number;
      if (e.retryAfter !== undefined) {
        delayMs = e.retryAfter * 1000;
        if (delayMs > policy.maxRetryAfterMs) throw e;
      } else {
        delayMs = backoffMs(policy, e, attempt);
      }
      // Sleeping past the deadline only to be cut off: the last 503 is the honest answer now.
      if (hooks.deadlineAt !== undefined && Date.now() + delayMs >= hooks.deadlineAt) throw e;
      hooks.onRetry?.({ attempt, delayMs, error: e });
      await sleep(delayMs, hooks.signal);
    }
  }
}
