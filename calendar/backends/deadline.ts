/**
 * One backend call's total time budget: every try, every retry and every
 * backoff sleep of the call share it. It ends at the backend's deadline or
 * when the caller's signal aborts, whichever comes first; its signal's
 * `reason` is then the typed error the call fails with.
 *
 * Why the call is also raced against the signal (and not only handed it):
 * runtimes differ in whether an abort reaches a response body that is already
 * being read (whatwg/fetch#1282; a body that trickles can otherwise hold
 * `text()` open), and libraries in between (tsdav) don't take a signal at all.
 * Racing bounds the caller's wait whatever the layers below do; passing the
 * signal still lets the runtime close the connection, which matters in
 * workerd, where a Worker has only a few simultaneous connections.
 */
import { CalendarTimeoutError, LabhogError } from "../errors.ts";

export interface CallOptions {
  /** Aborts the call; a reason that is a LabhogError is what the call throws. */
  signal?: AbortSignal;
  /** Overrides the backend's deadline for this call (e.g. a long first full sync outside the booking queue). */
  deadlineMs?: number;
}

/** What the transport needs to know about the budget. */
export interface Budget {
  readonly signal: AbortSignal;
  /** Absolute time (Date.now()) when the budget ends. */
  readonly at: number;
}

/** Seconds a client should wait after a timed-out call: at least 5, about the deadline itself. */
export function retryAfterFor(deadlineMs: number): number {
  return Math.max(5, Math.min(300, Math.ceil(deadlineMs / 1000)));
}

/** The typed error for an abort reason: a LabhogError stays; a timeout becomes CalendarTimeoutError; anything else is kept. */
export function abortError(reason: unknown, what: string): unknown {
  if (reason instanceof LabhogError) return reason;
  if (reason instanceof Error && reason.name === "TimeoutError") return new CalendarTimeoutError(`${what}: the caller's deadline passed`, 5, undefined, { cause: reason });
  return reason;
}

export class Deadline implements Budget {
  readonly signal: AbortSignal;
  readonly at: number;
  readonly #ac = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort: () => void;

  constructor(deadlineMs: number, what: string, caller?: AbortSignal) {
    this.signal = this.#ac.signal;
    this.at = Date.now() + deadlineMs;
    this.#caller = caller;
    this.#onCallerAbort = () => this.#ac.abort(abortError(caller?.reason, what));
    if (caller?.aborted) {
      this.#onCallerAbort();
    } else {
      caller?.addEventListener("abort", this.#onCallerAbort, { once: true });
      if (Number.isFinite(deadlineMs)) {
        this.#timer = setTimeout(() => {
          this.#ac.abort(new CalendarTimeoutError(`${what}: no answer from the calendar within ${deadlineMs} ms`, retryAfterFor(deadlineMs), deadlineMs));
        }, Math.max(0, deadlineMs));
      }
    }
  }

  remaining(): number {
    return this.at - Date.now();
  }

  /** Runs `fn` inside the budget: its result, or the budget's error as soon as the budget ends. Always releases the timer. */
  async run<T>(fn: (budget: Deadline) => Promise<T>): Promise<T> {
    try {
      return await raceSignal(fn(this), this.signal);
    } finally {
      this.dispose();
    }
  }

  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#caller?.removeEventListener("abort", this.#onCallerAbort);
  }
}

/** `p`, or a rejection with `signal.reason` as soon as the signal aborts (p's own outcome is then ignored). */
export function raceSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener("abort", onAbort); resolve(v); },
      (e) => { signal.removeEventListener("abort", onAbort); reject(e); },
    );
  });
}

/** An AbortSignal that aborts when any of `signals` does (AbortSignal.any, which older runtimes lack). */
export function anySignal(signals: AbortSignal[]): AbortSignal {
  if (typeof AbortSignal.any === "function") return AbortSignal.any(signals);
  const ac = new AbortController();
  for (const s of signals) {
    if (s.aborted) { ac.abort(s.reason); break; }
    s.addEventListener("abort", () => ac.abort(s.reason), { once: true });
  }
  return ac.signal;
}
