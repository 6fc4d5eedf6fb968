import { UnavailableError } from "../../errors.ts";

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
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 8_000, maxRetryAfterMs: 30_000 };

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
  onRetry?: (info: { attempt: number; delayMs: number; error: UnavailableError }) => void;
}

export async function withRetry<T>(policy: RetryPolicy, fn: () => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof UnavailableError) || attempt >= policy.attempts) throw e;
      let delayMs: number;
      if (e.retryAfter !== undefined) {
        delayMs = e.retryAfter * 1000;
        if (delayMs > policy.maxRetryAfterMs) throw e;
      } else {
        delayMs = Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      }
      hooks.onRetry?.({ attempt, delayMs, error: e });
      await sleep(delayMs, hooks.signal);
    }
  }
}
