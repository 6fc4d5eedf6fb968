/**
 * HTTP status → the typed errors of calendar/errors.ts, shared by the HTTP
 * backends. Only statuses that mean "try again later" become
 * UnavailableError, because that is what the retry loop retries.
 */
import {
  ConflictError,
  ForbiddenError,
  LabhogError,
  NotFoundError,
  PreconditionFailedError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from "../errors.ts";

/** Statuses worth retrying: the server (or something before it) is busy or restarting. */
const TRANSIENT = new Set([408, 425, 429, 502, 503, 504]);

/**
 * Retry-After in seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP-date),
 * undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

export interface HttpErrorContext {
  /** What we were doing, for the message: "PUT /cal/x.ics". */
  what: string;
  /** Response body (or its start), kept in the error detail for diagnosis. */
  body?: string;
}

export function errorFromStatus(status: number, headers: Headers, ctx: HttpErrorContext): LabhogError {
  const detail = { status, ...(ctx.body ? { body: ctx.body.slice(0, 500) } : {}) };
  const msg = `${ctx.what}: HTTP ${status}`;
  if (TRANSIENT.has(status)) return new UnavailableError(msg, parseRetryAfter(headers.get("retry-after")));
  switch (status) {
    case 400:
    case 415:
    case 422:
      return new ValidationError(msg, detail);
    case 401:
      return new UnauthorizedError(msg, detail);
    case 403:
      return new ForbiddenError(msg, detail);
    case 404:
    case 410:
      return new NotFoundError(msg, detail);
    case 409:
      return new ConflictError(msg, detail);
    case 412:
      return new PreconditionFailedError(msg, detail);
    default:
      // 500 and friends: a bug or a broken server, not something a retry fixes.
      return new LabhogError("upstream-error", 502, msg, detail);
  }
}

/** Reads (a bounded part of) the body and turns a non-2xx response into a typed error. */
export async function errorFromResponse(res: Response, what: string): Promise<LabhogError> {
  let body = "";
  try {
    body = (await res.text()).slice(0, 2000);
  } catch {
    // The body is only for diagnosis.
  }
  return errorFromStatus(res.status, res.headers, { what, body });
}

/**
 * A fetch that rejected: the connection failed or was lost before a response
 * arrived. Always transient; whether the request may be sent again is the
 * caller's decision (idempotent, or made safe by If-Match / If-None-Match).
 */
export class ConnectionLostError extends UnavailableError {
  constructor(what: string, cause: unknown) {
    super(`${what}: connection lost (${cause instanceof Error ? cause.message : String(cause)})`, undefined, { cause });
  }
}
