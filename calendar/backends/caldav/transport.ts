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
 *    what it really said, so bad credentials come out as UnauthorizedError
 *    instead of "unavailable" after N retries.
 */
import { davRequest, type DAVResponse } from "tsdav";
import { ForbiddenError, LabhogError, UnauthorizedError } from "../../errors.ts";
import { ConnectionLostError, errorFromStatus } from "../http-errors.ts";
import { withRetry, type RetryPolicy } from "../retry.ts";

export interface TransportOptions {
  username?: string;
  password?: string;
  /** Injected fetch (tests count requests or put a proxy in between). */
  fetch?: typeof fetch;
  retry?: Partial<RetryPolicy>;
  /** Per request, including its body; a timed-out request counts as a lost connection. Default 120 s (a first full REPORT on a 10,000-event Radicale takes ~40 s). */
  timeoutMs?: number;
  /** Structured log hook: { level, msg, ... }. */
  log?: (entry: Record<string, unknown> & { level: "debug" | "info" | "warn" | "error"; msg: string }) => void;
}

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

/** RFC 7617 Basic credentials, UTF-8 encoded. */
export function basicAuth(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return "Basic " + btoa(bin);
}

export class DavTransport {
  readonly #auth: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #retry: Partial<RetryPolicy> | undefined;
  readonly #timeoutMs: number;
  readonly log: NonNullable<TransportOptions["log"]>;

  constructor(opts: TransportOptions) {
    this.#auth = opts.username !== undefined ? basicAuth(opts.username, opts.password ?? "") : undefined;
    const f = opts.fetch ?? globalThis.fetch;
    this.#fetch = (input, init) => f(input, init);
    this.#retry = opts.retry;
    this.#timeoutMs = opts.timeoutMs ?? 120_000;
    this.log = opts.log ?? (() => {});
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.#auth ? { Authorization: this.#auth, ...extra } : { ...extra };
  }

  /** One attempt; a rejected fetch becomes ConnectionLostError (after a probe for bodies). */
  async #once(url: string, init: RequestInit, what: string): Promise<Response> {
    const caller = init.signal ?? undefined;
    // A server that accepts and never answers must not hang a sync forever; the
    // timeout also covers reading the body, which shares the signal.
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = caller ? AbortSignal.any([caller, timeout]) : timeout;
    try {
      return await this.#fetch(url, { ...init, signal });
    } catch (e) {
      if (caller?.aborted) throw e;
      // A request the runtime will not send at all (workerd: "Invalid HTTP method string") is no connection problem.
      if (e instanceof TypeError && /invalid/i.test(e.message)) throw e;
      const bodyLength = typeof init.body === "string" ? init.body.length : 0;
      this.log({ level: "warn", msg: "caldav connection lost", what, bodyLength, error: e instanceof Error ? e.message : String(e) });
      if (bodyLength >= BODY_PROBE_THRESHOLD) await this.#probe(url, what);
      throw new ConnectionLostError(what, e);
    }
  }

  /**
   * The response body. When the connection dies while it is read, an error
   * status already received still counts (Radicale's early 401 arrives, then
   * the reset eats the rest); a success without its body is a lost connection.
   */
  async #bodyOf(res: Response, what: string): Promise<string> {
    try {
      return await res.text();
    } catch (e) {
      this.log({ level: "warn", msg: "caldav connection lost", what, status: res.status, whileReading: true, error: e instanceof Error ? e.message : String(e) });
      if (res.status >= 400) return "";
      throw new ConnectionLostError(what, e);
    }
  }

  /** Asks, without a body, whether the server would refuse us outright. */
  async #probe(url: string, what: string): Promise<void> {
    let res: Response;
    try {
      res = await this.#fetch(url, { method: "PROPFIND", headers: this.#headers({ Depth: "0" }) });
      await res.body?.cancel();
    } catch {
      return; // Still unreachable: the caller's ConnectionLostError says it.
    }
    if (res.status === 401) throw new UnauthorizedError(`${what}: the server refused our credentials (found by a probe after the connection was lost)`, { status: 401 });
    if (res.status === 403) throw new ForbiddenError(`${what}: the server refused access (found by a probe after the connection was lost)`, { status: 403 });
  }

  /**
   * A plain request (GET/PUT/DELETE/MKCOL…). Returns every status to the
   * caller (who knows which ones are errors for it); throws ConnectionLostError
   * or UnavailableError after retries for transient failures when
   * `retryTransient` (idempotent, or conditional writes).
   */
  async raw(method: string, url: string, opts: { headers?: Record<string, string>; body?: string; signal?: AbortSignal; onAttempt?: (attempt: number, previous: unknown) => void } = {}): Promise<RawReply> {
    const what = `${method} ${new URL(url).pathname}`;
    return withRetry(async ({ attempt, previous }) => {
      opts.onAttempt?.(attempt, previous);
      const res = await this.#once(url, { method, headers: this.#headers(opts.headers), body: opts.body, signal: opts.signal }, what);
      const text = await this.#bodyOf(res, what);
      const transient = errorFromStatus(res.status, res.headers, { what, body: text });
      if (res.status >= 400 && transient.code === "unavailable") throw transient;
      return { status: res.status, headers: res.headers, text };
    }, { policy: this.#retry, signal: opts.signal, onRetry: (r) => this.log({ level: "info", msg: "caldav retry", what, attempt: r.attempt, delayMs: r.delayMs, error: String(r.error) }) });
  }

  /** A WebDAV request with an XML body and a multistatus answer, through tsdav's parser. Idempotent (PROPFIND/REPORT). */
  async dav(method: "PROPFIND" | "REPORT", url: string, body: string, depth: "0" | "1", signal?: AbortSignal): Promise<DavReply> {
    const what = `${method} ${new URL(url).pathname}`;
    return withRetry(async () => {
      let status = 0;
      let headers = new Headers();
      let text = "";
      const fetchOnce = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
        const res = await this.#once(String(input), { ...init, signal }, what);
        status = res.status;
        headers = res.headers;
        if (status >= 300) {
          // Keep the error text for the caller; hand tsdav an equivalent response.
          text = await this.#bodyOf(res, what);
          return new Response(text, { status: res.status, headers: res.headers });
        }
        return res;
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
        if (e instanceof LabhogError || signal?.aborted) throw e;
        // The status line came but the multistatus body was cut off.
        throw new ConnectionLostError(what, e);
      }
      if (status >= 400) {
        const err = errorFromStatus(status, headers, { what, body: text });
        if (err.code === "unavailable") throw err;
        return { status, headers, responses: [], doc: undefined, text };
      }
      const first = responses[0] as (DAVResponse & { raw?: unknown }) | undefined;
      const doc = first && typeof first.raw === "object" ? first.raw : undefined;
      // tsdav returns one synthetic entry for an empty multistatus: drop it.
      const real = responses.filter((r) => r.href !== undefined && r.href !== null && !(r.href === url && typeof (r as { raw?: unknown }).raw !== "object"));
      return { status, headers, responses: real, doc, text };
    }, { policy: this.#retry, signal, onRetry: (r) => this.log({ level: "info", msg: "caldav retry", what, attempt: r.attempt, delayMs: r.delayMs, error: String(r.error) }) });
  }

  /** Throws the typed error for a non-2xx reply. */
  static fail(reply: { status: number; headers: Headers; text: string }, what: string): LabhogError {
    return errorFromStatus(reply.status, reply.headers, { what, body: reply.text });
  }
}
