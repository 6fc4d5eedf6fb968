import {
  ConflictError,
  ForbiddenError,
  LabhogError,
  NotFoundError,
  PreconditionFailedError,
  SyncTokenInvalidError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from "../../errors.ts";

/**
 * Google API failures (gaxios errors carrying Google's JSON error body) as
 * labhog's typed errors. Reasons follow Google's "Handle API errors" guide:
 * 403 with a rate-limit reason is throttling, not a permission problem.
 */

interface GoogleErrorBody {
  error?: { code?: number; message?: string; status?: string; errors?: { reason?: string; message?: string }[] } | string;
}

interface HttpishError {
  status?: number;
  code?: string | number;
  message?: string;
  cause?: unknown;
  response?: { status: number; headers?: Headers | Record<string, string>; data?: unknown };
}

/**
 * Google's "Manage quotas" guide: exceeding the per-minute quotas (per
 * project, and per project per user, where the user is the service account
 * or the impersonated user making the request) answers 403 or 429
 * `usageLimits` with reason rateLimitExceeded / userRateLimitExceeded: back
 * off exponentially and try again. `quotaExceeded` ("Calendar usage limits
 * exceeded") is different: Workspace's calendar usage limits put the
 * calendar in read-only mode for hours, so repeating the call only adds to
 * the count.
 */
const RATE_LIMIT_REASONS = new Set(["rateLimitExceeded", "userRateLimitExceeded"]);
const LASTING_QUOTA_REASONS = new Set(["quotaExceeded", "dailyLimitExceeded"]);

/** A throttling answer (429, or 403 with a rate-limit reason): retried, with longer waits than for a 503. */
export class GoogleRateLimitError extends UnavailableError {}

/** Google's calendar usage limits were hit: not retried, it lasts (hours). */
export class GoogleQuotaExceededError extends LabhogError {
  constructor(message: string, detail?: Record<string, unknown>) {
    super("google-quota-exceeded", 503, message, detail);
  }
}

function header(headers: Headers | Record<string, string> | undefined, name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name);
  const rec = headers as Record<string, string>;
  return rec[name] ?? rec[name.toLowerCase()] ?? null;
}

/** Retry-After in seconds (delta-seconds or HTTP-date), or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, (at - now) / 1000);
}

function reasons(data: unknown): { message: string | undefined; reasons: string[] } {
  const body = data as GoogleErrorBody | undefined;
  const err = body && typeof body === "object" ? body.error : undefined;
  if (!err || typeof err === "string") return { message: typeof err === "string" ? err : undefined, reasons: [] };
  return { message: err.message, reasons: (err.errors ?? []).map((e) => e.reason ?? "").filter(Boolean) };
}

export interface GoogleErrorContext {
  op: string;
  id?: string;
  /** The request carried a sync token: a 410 means "full sync required". */
  withSyncToken?: boolean;
}

export function toLabhogError(e: unknown, ctx: GoogleErrorContext): LabhogError {
  if (e instanceof LabhogError) return e;
  const he = (e ?? {}) as HttpishError;
  // Errors thrown inside our fetch wrapper (token exchange) arrive wrapped by gaxios.
  if (he.cause instanceof LabhogError) return he.cause;
  const status = he.response?.status ?? (typeof he.status === "number" ? he.status : undefined);
  const what = `google ${ctx.op}${ctx.id ? ` ${ctx.id}` : ""}`;
  if (status === undefined) {
    if ((e as Error)?.name === "AbortError" || he.code === "ABORT_ERR") throw e; // caller cancelled: not ours to translate
    return new UnavailableError(`${what}: ${he.message ?? String(e)}`, undefined, { cause: e });
  }
  const { message, reasons: rs } = reasons(he.response?.data);
  const detail = `${what}: ${status} ${message ?? he.message ?? ""}`.trim();
  const retryAfter = parseRetryAfter(header(he.response?.headers, "retry-after"));
  if ((status === 403 || status === 429) && rs.some((r) => LASTING_QUOTA_REASONS.has(r))) {
    return new GoogleQuotaExceededError(
      `${detail} (Google's calendar usage limits; not retried: they last for hours. All ledgers share the service account's quota, or the delegated user's)`,
      { reasons: rs },
    );
  }
  if (status === 429 || (status === 403 && rs.some((r) => RATE_LIMIT_REASONS.has(r)))) {
    return new GoogleRateLimitError(detail, retryAfter, { cause: e });
  }
  if (status >= 500) return new UnavailableError(detail, retryAfter, { cause: e });
  switch (status) {
    case 400:
      // Google documents 410 as "token expired, do a full sync". A 400 on a
      // request with a sync token means the request itself is wrong (say,
      // timeMin together with syncToken, which events.list forbids): a bug
      // to report, not a reason to re-download the calendar quietly. Only a
      // token Google cannot read at all ("Invalid sync token value.") is
      // treated as gone, and the backend logs that at warn.
      if (ctx.withSyncToken && /invalid sync ?token value/i.test(message ?? "")) return new SyncTokenInvalidError(detail);
      return new ValidationError(detail, { reasons: rs });
    case 401:
      return new UnauthorizedError(detail);
    case 403:
      return new ForbiddenError(detail, { reasons: rs });
    case 404:
      return new NotFoundError(detail);
    case 409:
      return new ConflictError(detail, { reasons: rs });
    case 410:
      // On a list with a sync token: the token expired. Elsewhere: the event was deleted.
      return ctx.withSyncToken ? new SyncTokenInvalidError(detail) : new NotFoundError(detail);
    case 412:
      return new PreconditionFailedError(detail);
    default:
      return new LabhogError("google-error", status, detail, { reasons: rs });
  }
}
