/**
 * Typed errors. Every error that can reach a user carries a stable `code`
 * (used as the RFC 9457 problem `type` suffix in the API and as the CLI's
 * one-line message) and an HTTP status.
 */
export class LabhogError extends Error {
  readonly code: string;
  readonly status: number;
  readonly detail?: Record<string, unknown>;
  constructor(code: string, status: number, message: string, detail?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    if (detail !== undefined) this.detail = detail;
  }
}

/** The calendar server has no such object. */
export class NotFoundError extends LabhogError {
  constructor(message: string, detail?: Record<string, unknown>) { super("not-found", 404, message, detail); }
}

/** An If-Match / If-None-Match precondition failed: someone else changed the object. */
export class PreconditionFailedError extends LabhogError {
  constructor(message: string, detail?: Record<string, unknown>) { super("precondition-failed", 412, message, detail); }
}

/** The write would break an invariant (an overlapping exclusive reservation, a duplicate UID). */
export class ConflictError extends LabhogError {
  constructor(message: string, detail?: Record<string, unknown>) { super("conflict", 409, message, detail); }
}

export class UnauthorizedError extends LabhogError {
  constructor(message: string, detail?: Record<string, unknown>) { super("unauthorized", 401, message, detail); }
}

export class ForbiddenError extends LabhogError {
  constructor(message: string, detail?: Record<string, unknown>) { super("forbidden", 403, message, detail); }
}

/** The calendar server is down or overloaded; `retryAfter` in seconds when it said. */
export class UnavailableError extends LabhogError {
  readonly retryAfter: number | undefined;
  constructor(message: string, retryAfter?: number, options?: { cause?: unknown }) {
    super("unavailable", 503, message, retryAfter === undefined ? undefined : { retryAfter }, options);
    this.retryAfter = retryAfter;
  }
}

/** The server refused our sync token: the caller must resync from scratch. */
export class SyncTokenInvalidError extends LabhogError {
  constructor(message: string) { super("sync-token-invalid", 410, message); }
}

/** Bad input from a user or config file; `path` names the bad field. */
export class ValidationError extends LabhogError {
  constructor(message: string, detail?: Record<string, unknown>) { super("invalid", 400, message, detail); }
}

/** One calendar object that cannot be understood. The rest of the calendar still syncs. */
export class InvalidEventError extends LabhogError {
  readonly objectId: string | undefined;
  constructor(message: string, objectId?: string, options?: { cause?: unknown }) {
    super("invalid-event", 422, message, objectId === undefined ? undefined : { objectId }, options);
    this.objectId = objectId;
  }
}

export function isTransient(e: unknown): boolean {
  return e instanceof UnavailableError;
}

/**
 * The calendar could not answer in time, and labhog stopped trying for this
 * call. 503 with `retryAfter` (seconds), so the API answers with Retry-After.
 * Deliberately NOT an UnavailableError: the retry loops retry those, and a
 * call whose budget is spent must not be retried by anything below the caller.
 */
export class CalendarUnavailableError extends LabhogError {
  readonly retryAfter: number;
  constructor(message: string, retryAfter: number, options?: { cause?: unknown; code?: string; detail?: Record<string, unknown> }) {
    super(options?.code ?? "calendar-unavailable", 503, message, { ...options?.detail, retryAfter }, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfter = retryAfter;
  }
}

/** A calendar call ran out of its total deadline (every try, retry and backoff included). */
export class CalendarTimeoutError extends CalendarUnavailableError {
  readonly deadlineMs: number | undefined;
  constructor(message: string, retryAfter: number, deadlineMs?: number, options?: { cause?: unknown }) {
    super(message, retryAfter, { ...options, code: "calendar-timeout", ...(deadlineMs === undefined ? {} : { detail: { deadlineMs } }) });
    this.deadlineMs = deadlineMs;
  }
}

/**
 * The calendar server refused labhog's own credentials (401), or throttles our
 * address for failed logins (Nextcloud's brute-force 429). Not the API
 * caller's fault, so not a 401 to them: 502, "calendar credentials refused".
 * Never retried: each retry with a wrong password is one more failed login
 * from an egress IP that other Workers share.
 */
export class CalendarAuthError extends LabhogError {
  readonly retryAfter: number | undefined;
  constructor(message: string, detail?: Record<string, unknown> & { retryAfter?: number }) {
    super("calendar-credentials-refused", 502, message, detail);
    this.retryAfter = detail?.retryAfter;
  }
}

/** The calendar can't be reached right now (down, hanging, or out of time): reads answer from the cache, marked stale. */
export function isCalendarUnreachable(e: unknown): boolean {
  return e instanceof UnavailableError || e instanceof CalendarUnavailableError;
}
