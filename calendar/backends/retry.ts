/**
 * Retries with exponential backoff and full jitter, for transient failures
 * only (UnavailableError: 429/502/503/504, lost connections); a first lost
 * connection is retried at once. A Retry-After
 * the server sends is honoured; one longer than `maxDelayMs` is not slept
 * through here but handed to the caller (the ledger's alarm can wait).
 *
 * A call's total deadline (`deadlineAt`, with `signal`) bounds the loop: a
 * backoff that would end past it is not started (the last error, a 503, is
 * thrown at once), and once the signal aborts its reason is what is thrown.
 */
import { UnavailableError, isTransient } from "../errors.ts";
import { ConnectionLostError } from "./http-errors.ts";

export interface RetryPolicy {
  /** Attempts in total, including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 5_000 };

export interface AttemptInfo {
  /** 1 for the first attempt. */
  attempt: number;
  /** What made the previous attempt fail (undefined on the first). */
  previous: unknown;
}

export interface RetryOptions {
  policy?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  /** Absolute time (Date.now()) the whole loop must end by; see Deadline. */
  deadlineAt?: number;
  /** Called before sleeping, for logs. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Injected for tests; defaults to setTimeout. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(signal?.reason); };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The delay before attempt `attempt + 1`, or undefined to give up now. */
export function backoffDelay(error: unknown, attempt: number, policy: RetryPolicy, random: () => number = Math.random): number | undefined {
  if (!isTransient(error) || attempt >= policy.attempts) return undefined;
  const retryAfter = error instanceof UnavailableError ? error.retryAfter : undefined;
  if (retryAfter !== undefined) {
    const ms = retryAfter * 1000;
    return ms <= policy.maxDelayMs ? ms : undefined;
  }
  // A first lost connection is retried at once: it is most often a pooled keep-alive connection the
  // server had already closed (workerd pools even an HTTP/1.0 server's connections, which Radicale closes
  // after every answer; cloudflare/workers-sdk#14641), and curl and browsers resend on a fresh one at once too.
  if (attempt === 1 && error instanceof ConnectionLostError) return 0;
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(random() * cap);
}

export async function withRetry<T>(fn: (info: AttemptInfo) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const policy = { ...defaultRetryPolicy, ...options.policy };
  const sleep = options.sleep ?? defaultSleep;
  let previous: unknown;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn({ attempt, previous });
    } catch (e) {
      if (options.signal?.aborted) throw options.signal.reason;
      const delayMs = backoffDelay(e, attempt, policy, options.random);
      if (delayMs === undefined) throw e;
      // Sleeping past the deadline only to be cut off: give the caller the real reason now.
      if (options.deadlineAt !== undefined && Date.now() + delayMs >= options.deadlineAt) throw e;
      options.onRetry?.({ attempt, delayMs, error: e });
      previous = e;
      if (delayMs > 0) await sleep(delayMs, options.signal);
    }
  }
}
