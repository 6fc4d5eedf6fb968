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

const RATE_LIMIT_REASONS = new Set(["rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"]);

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
  if (status === 429 || status >= 500 || (status === 403 && rs.some((r) => RATE_LIMIT_REASONS.has(r)))) {
    return new UnavailableError(detail, retryAfter, { cause: e });
  }
  switch (status) {
    case 400:
      if (ctx.withSyncToken && /sync ?token/i.test(message ?? "")) return new SyncTokenInvalidError(detail);
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
