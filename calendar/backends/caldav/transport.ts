/**
 * HTTP for the caldav backend: Basic auth, typed errors, retries, and the
 * connection losses of real servers handled for what they are.
 *
 * What loses connections (found against Radicale, an HTTP/1.0 server that
 * closes after every response): when a server answers WITHOUT reading the
 * request body (Radicale does for 401/403/413) and closes, the kernel resets
 * the connection because unread bytes are pending; with a body over the
 * socket buffer (~64 KiB) the reset can destroy the response before the
 * client reads it. workerd then reports "Network connection lost"
 * (cloudflare/workerd#1741), Node "fetch failed"/ECONNRESET. Idle pooled
 * keep-alive connections closed by the server race the next request the same
 * way (cloudflare/workers-sdk#14641). So:
 *  - a rejected fetch is a ConnectionLostError (transient);
 *  - idempotent requests are retried with backoff;
 *  - writes are only sent with If-None-Match / If-Match, which makes resending
 *    safe; the caller resolves a 412 that may be its own earlier attempt;
 *  - after a lost request that had a body, a bodiless probe asks the server
 *    what it really said, so bad credentials come out as CalendarAuthError
 *    instead of "unavailable" after N retries.
 *
 * Time: every call runs inside one Budget (calendar/backends/deadline.ts), a
 * TOTAL deadline over its tries, body reads and backoff sleeps. A server that
 * accepts and never answers, or trickles its body forever, costs the caller
 * the deadline and no more, then CalendarTimeoutError. Bodies are read here,
 * raced against the budget, before anyone else (tsdav) sees them.
 *
 * Credentials: a 401, or a 429 that is Nextcloud's brute-force throttle, is
 * CalendarAuthError at once, never retried, and latched for `authCooldownMs`
 * per server and credentials (module-wide, so every backend of this isolate
 * holds back): Nextcloud counts failed logins per IP, and Workers share
 * egress IPs, so every retry with a wrong password brings the lockout closer
 * for everyone behind the same address.
 */
import { calendarLimitError } from "./nextcloud-limits.ts";
import { davRequest, type DAVResponse } from "tsdav";
import { CalendarAuthError, ForbiddenError, LabhogError } from "../../errors.ts";
import { ConnectionLostError, errorFromStatus, parseRetryAfter } from "../http-errors.ts";
import { withRetry, type RetryPolicy } from "../retry.ts";
import { anySignal, Deadline, raceSignal, type Budget } from "../deadline.ts";

export interface TransportOptions {
  username?: string;
  password?: string;
  /** Injected fetch (tests count requests or put a proxy in between). */
  fetch?: typeof fetch;
  retry?: Partial<RetryPolicy>;
  /** Per try, including its body; a timed-out try counts as a lost connection (and may be retried inside the deadline). Default 120 s. */
  timeoutMs?: number;
  /** Total per call (all tries, retries and backoff), unless the call says otherwise. Default 15 s. */
  deadlineMs?: number;
  /** After refused credentials, how long no request is sent with them. Default 15 min. */
  authCooldownMs?: number;
  /** Structured log hook: { level, msg, ... }. */
  log?: (entry: Record<string, unknown> & { level: "debug" | "info" | "warn" | "error"; msg: string }) => void;
}

export const DEFAULT_DEADLINE_MS = 15_000;
export const DEFAULT_AUTH_COOLDOWN_MS = 15 * 60_000;

export interface DavReply {
  status: number;
  headers: Headers;
  responses: DAVResponse[];
  /** The parsed document (tsdav/xml-js compact form) when it was a multistatus. */
  doc: unknown;
  /** The body text when it was not a multistatus (errors). */
  text: string;
}

export interface RawReply {
  status: number;
  headers: Headers;
  text: string;
}

const BODY_PROBE_THRESHOLD = 1024;
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** RFC 7617 Basic credentials, UTF-8 encoded. */
export function basicAuth(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return "Basic " + btoa(bin);
}

/**
 * Nextcloud's brute-force answer on DAV is a 429 carrying its
 * OCA\DAV\Connector\Sabre\Exception\TooManyRequests, a NotAuthenticated
 * subclass (apps/dav/lib/Connector/Sabre/Exception/TooManyRequests.php). The
 * same class with "Too many calendars created" is the calendar-creation rate
 * limit (CalDAV/Security/RateLimitingPlugin.php): not about credentials.
 */
export function isAuthThrottle(text: string): boolean {
  if (/calendars created/i.test(text)) return false;
  return /Sabre\\Exception\\TooManyRequests|NotAuthenticated|brute.?force/i.test(text);
}

interface Refusal {
  /** No request with these credentials before this time. */
  until: number;
  status: number;
  at: number;
}

/** Refused credentials per server origin and Authorization, shared by every transport in this isolate. */
const refusals = new Map<string, Refusal>();

export class DavTransport {
  readonly #auth: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #retry: Partial<RetryPolicy> | undefined;
  readonly #timeoutMs: number;
  readonly deadlineMs: number;
  readonly #authCooldownMs: number;
  readonly log: NonNullable<TransportOptions["log"]>;

  constructor(opts: TransportOptions) {
    this.#auth = opts.username !== undefined ? basicAuth(opts.username, opts.password ?? "") : undefined;
    const f = opts.fetch ?? globalThis.fetch;
    this.#fetch = (input, init) => f(input, init);
    this.#retry = opts.retry;
    this.#timeoutMs = opts.timeoutMs ?? 120_000;
    this.deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.#authCooldownMs = opts.authCooldownMs ?? DEFAULT_AUTH_COOLDOWN_MS;
    this.log = opts.log ?? (() => {});
  }

  /** A call's budget: the transport's deadline (or `deadlineMs`) and the caller's signal. */
  budget(what: string, opts: { signal?: AbortSignal; deadlineMs?: number } = {}): Deadline {
    return new Deadline(opts.deadlineMs ?? this.deadlineMs, what, opts.signal);
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.#auth ? { Authorization: this.#auth, ...extra } : { ...extra };
  }

  #refusalKey(url: string): string {
    return `${new URL(url).origin}\n${this.#auth ?? ""}`;
  }

  #authError(url: string, r: Refusal, what: string, sent: boolean): CalendarAuthError {
    const host = new URL(url).host;
    const retryAfter = Math.max(1, Math.ceil((r.until - Date.now()) / 1000));
    const why = r.status === 429 ? "throttles this address for failed logins (HTTP 429)" : "refused labhog's credentials (HTTP 401)";
    const msg = sent
      ? `calendar credentials refused: ${host} ${why} on ${what}; check the calendar username and app password. No request is sent with these credentials for ${Math.round(this.#authCooldownMs / 60_000)} min, so the server's brute-force protection isn't fed.`
      : `calendar credentials refused: ${host} ${why} at ${new Date(r.at).toISOString()}; not asking again before ${new Date(r.until).toISOString()} (brute-force protection).`;
    return new CalendarAuthError(msg, { status: r.status, server: host, retryAfter });
  }

  /** Fails without a request while these credentials are in their cool-down. */
  #checkRefused(url: string, what: string): void {
    const r = refusals.get(this.#refusalKey(url));
    if (r && Date.now() < r.until) throw this.#authError(url, r, what, false);
  }

  /** Latches and throws for a 401, or a 429 that is about logins. */
  #judge(url: string, status: number, headers: Headers, text: string, what: string): void {
    const key = this.#refusalKey(url);
    const earlier = refusals.get(key);
    if (status === 401 || (status === 429 && (isAuthThrottle(text) || earlier !== undefined))) {
      const at = Date.now();
      const hinted = status === 429 ? (parseRetryAfter(headers.get("retry-after")) ?? 0) * 1000 : 0;
      const r: Refusal = { at, status, until: at + Math.max(this.#authCooldownMs, hinted) };
      refusals.set(key, r);
      this.log({ level: "error", msg: "calendar credentials refused", what, status, coolDownUntil: new Date(r.until).toISOString() });
      throw this.#authError(url, r, what, true);
    }
    if (status < 300 && earlier) refusals.delete(key);
  }

  /**
   * One try, body included, inside the budget and the per-try timeout. A
   * rejected fetch becomes ConnectionLostError (after a probe for bodies); the
   * spent budget becomes its own typed error.
   */
  async #once(url: string, init: RequestInit, what: string, budget: Budget): Promise<RawReply> {
    this.#checkRefused(url, what);
    // The per-try timeout only when it can end the try before the budget does: otherwise it is a timer
    // and a combined signal per request for nothing (they showed in a booking's V8 profile).
    const signal = budget.at - Date.now() > this.#timeoutMs ? anySignal([budget.signal, AbortSignal.timeout(this.#timeoutMs)]) : budget.signal;
    let res: Response;
    try {
      res = await raceSignal(this.#fetch(url, { ...init, signal }), signal);
    } catch (e) {
      if (budget.signal.aborted) throw budget.signal.reason;
      if (e instanceof LabhogError) throw e;
      // A request the runtime will not send at all (workerd: "Invalid HTTP method string") is no connection problem.
      if (e instanceof TypeError && /invalid/i.test(e.message)) throw e;
      const bodyLength = typeof init.body === "string" ? init.body.length : 0;
      // info: most are a pooled connection the server had closed, retried at once (retry.ts); one that stays lost ends as the caller's 503.
      this.log({ level: "info", msg: "caldav connection lost", what, bodyLength, error: e instanceof Error ? e.message : String(e) });
      if (bodyLength >= BODY_PROBE_THRESHOLD) await this.#probe(url, what, budget);
      throw new ConnectionLostError(what, e);
    }
    // When the connection dies while the body is read, an error status already
    // received still counts (Radicale's early 401 arrives, then the reset eats
    // the rest); a success without its body is a lost connection.
    let text = "";
    try {
      text = await raceSignal(res.text(), signal);
    } catch (e) {
      res.body?.cancel().catch(() => {});
      if (budget.signal.aborted) throw budget.signal.reason;
      this.log({ level: "warn", msg: "caldav connection lost", what, status: res.status, whileReading: true, error: e instanceof Error ? e.message : String(e) });
      if (res.status < 400) throw new ConnectionLostError(what, e);
    }
    this.#judge(url, res.status, res.headers, text, what);
    return { status: res.status, headers: res.headers, text };
  }

  /** Asks, without a body, whether the server would refuse us outright. */
  async #probe(url: string, what: string, budget: Budget): Promise<void> {
    let res: Response;
    try {
      res = await raceSignal(this.#fetch(url, { method: "PROPFIND", headers: this.#headers({ Depth: "0" }), signal: budget.signal }), budget.signal);
      res.body?.cancel().catch(() => {});
    } catch {
      if (budget.signal.aborted) throw budget.signal.reason;
      return; // Still unreachable: the caller's ConnectionLostError says it.
    }
    this.#judge(url, res.status, res.headers, "", `${what} (probe after a lost connection)`);
    if (res.status === 403) throw new ForbiddenError(`${what}: the server refused access (found by a probe after the connection was lost)`, { status: 403 });
  }

  /** Runs `fn` in `budget`, or in a fresh one of the transport's deadline. */
  #within<T>(what: string, budget: Budget | undefined, fn: (b: Budget) => Promise<T>): Promise<T> {
    if (budget) return raceSignal(fn(budget), budget.signal);
    return this.budget(what).run(fn);
  }

  #retrying<T>(what: string, budget: Budget, fn: (info: { attempt: number; previous: unknown }) => Promise<T>): Promise<T> {
    return withRetry(fn, {
      policy: this.#retry,
      signal: budget.signal,
      deadlineAt: budget.at,
      onRetry: (r) => this.log({ level: "info", msg: "caldav retry", what, attempt: r.attempt, delayMs: r.delayMs, error: String(r.error) }),
    });
  }

  /**
   * A plain request (GET/PUT/DELETE/MKCOL…). Returns every status to the
   * caller (who knows which ones are errors for it); throws ConnectionLostError
   * or UnavailableError after retries for transient failures (idempotent, or
   * conditional writes), CalendarAuthError for refused credentials, and the
   * budget's error when it runs out.
   */
  async raw(method: string, url: string, opts: { headers?: Record<string, string>; body?: string; budget?: Budget; onAttempt?: (attempt: number, previous: unknown) => void } = {}): Promise<RawReply> {
    const what = `${method} ${new URL(url).pathname}`;
    return this.#within(what, opts.budget, (budget) =>
      this.#retrying(what, budget, async ({ attempt, previous }) => {
        opts.onAttempt?.(attempt, previous);
        const r = await this.#once(url, { method, headers: this.#headers(opts.headers), body: opts.body }, what, budget);
        // Nextcloud's calendar-creation limits: not transient, and a retry counts against them.
        const limit = calendarLimitError(r, what);
        if (limit) throw limit;
        // Only an error status is turned into an error: building one captures a stack, on every successful write otherwise.
        if (r.status >= 400) {
          const transient = errorFromStatus(r.status, r.headers, { what, body: r.text });
          if (transient.code === "unavailable") throw transient;
        }
        return r;
      }),
    );
  }

  /** A WebDAV request with an XML body and a multistatus answer, through tsdav's parser. Idempotent (PROPFIND/REPORT). */
  async dav(method: "PROPFIND" | "REPORT", url: string, body: string, depth: "0" | "1", budget?: Budget): Promise<DavReply> {
    const what = `${method} ${new URL(url).pathname}`;
    return this.#within(what, budget, (b) =>
      this.#retrying(what, b, async () => {
        let reply: RawReply = { status: 0, headers: new Headers(), text: "" };
        // tsdav reads what we hand it: an answer already read in full, inside the budget.
        const fetchOnce = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
          reply = await this.#once(String(input), { ...init }, what, b);
          return new Response(NULL_BODY_STATUS.has(reply.status) ? null : reply.text, { status: reply.status, headers: reply.headers });
        };
        let responses: DAVResponse[];
        try {
          responses = await davRequest({
            url,
            init: { method, headers: { Depth: depth, "Content-Type": "application/xml; charset=utf-8", ...this.#headers() }, body },
            convertIncoming: false,
            fetch: fetchOnce as typeof fetch,
          });
        } catch (e) {
          if (b.signal.aborted) throw b.signal.reason;
          if (e instanceof LabhogError) throw e;
          throw new ConnectionLostError(what, e);
        }
        const { status, headers, text } = reply;
        if (status >= 400) {
          const err = errorFromStatus(status, headers, { what, body: text });
          if (err.code === "unavailable") throw err;
          return { status, headers, responses: [], doc: undefined, text };
        }
        if (status >= 300) return { status, headers, responses: [], doc: undefined, text };
        const first = responses[0] as (DAVResponse & { raw?: unknown }) | undefined;
        const doc = first && typeof first.raw === "object" ? first.raw : undefined;
        // tsdav returns one synthetic entry (href: the response's URL, "" for the
        // Response we built) for an empty or unreadable multistatus: drop it.
        const real = responses.filter((r) => r.href !== undefined && r.href !== null && r.href !== "" && !(r.href === url && typeof (r as { raw?: unknown }).raw !== "object"));
        return { status, headers, responses: real, doc, text };
      }),
    );
  }

  /** Throws the typed error for a non-2xx reply. */
  static fail(reply: { status: number; headers: Headers; text: string }, what: string): LabhogError {
    return errorFromStatus(reply.status, reply.headers, { what, body: reply.text });
  }
}

/** Forgets every refusal: for tests that fake wrong credentials behind the transport's back. */
export function clearCredentialRefusals(): void {
  refusals.clear();
}
