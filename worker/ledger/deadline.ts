import { LabhogError } from "../../calendar/errors.ts";

/**
 * Every calendar call the ledger makes goes through withDeadline, so one
 * lab setting (policy.calendarDeadline) bounds how long a hanging calendar
 * server can hold the ledger's serial queue. The call is handed an
 * AbortSignal (so a backend that takes one closes its connection) AND raced
 * against it: a layer that ignores the signal, or a body that trickles
 * bytes, can't hold the queue either. Past the deadline the caller gets a 503
 * with Retry-After; the abandoned call's result is never stored (callers
 * store only what withDeadline returned), so nothing is half-written on
 * labhog's side. A create that the server finishes after we gave up is
 * cleaned up at the next sync (see sync.ts, "abandoned").
 */
export class CalendarDeadlineError extends LabhogError {
  constructor(what: string, deadlineMs: number) {
    super("calendar-timeout", 503, `${what}: no answer from the calendar within ${Math.round(deadlineMs / 1000)} s`, { retryAfter: Math.max(5, Math.min(300, Math.ceil(deadlineMs / 1000))), deadlineMs });
  }
}

export async function withDeadline<T>(deadlineMs: number, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = new CalendarDeadlineError(what, deadlineMs);
      ac.abort(e);
      reject(e);
    }, deadlineMs);
  });
  const call = fn(ac.signal);
  try {
    return await Promise.race([call, expired]);
  } finally {
    clearTimeout(timer);
    // The loser of the race must not surface as an unhandled rejection.
    call.catch(() => undefined);
    expired.catch(() => undefined);
  }
}
