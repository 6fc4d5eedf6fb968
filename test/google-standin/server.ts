/**
 * Google Calendar API v3 + OAuth token endpoint STAND-IN: a test double that
 * speaks just the endpoints labhog's google backend calls, as Google documents
 * them. It is not Google and proves nothing about Google's own behaviour
 * beyond what its documentation says; it lets the backend be tested end to
 * end over real HTTP (real JWT signatures, real paging, real status codes).
 *
 *   POST   /token                                          (OAuth 2.0, jwt-bearer grant)
 *   GET    /calendar/v3/calendars/{calendarId}/events      (events.list)
 *   POST   /calendar/v3/calendars/{calendarId}/events      (events.insert)
 *   GET    /calendar/v3/calendars/{calendarId}/events/{id} (events.get)
 *   PUT    …/events/{id}                                   (events.update)
 *   PATCH  …/events/{id}                                   (events.patch)
 *   DELETE …/events/{id}                                   (events.delete)
 *
 * Test hooks: calendars(), createServiceAccount(), auth.revokeAllTokens(),
 * auth.rejectAllBearers, auth.grantDomainWideDelegation(), calendar.invalidateSyncTokens(),
 * calendar.freezeTombstone(), injectFaults() (status, Retry-After, Google's
 * reason and message, per method), loseResponses() (done, never answered),
 * clearFaults(), requests (a log; a lost answer is status 0), auth.tokenRequests.
 * The rules Google documents and the stand-in enforces are listed in
 * standin-calendar.ts and standin-auth.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { StandinAuth } from "./standin-auth.ts";
import { StandinCalendar, StandinHttpError, type GEvent } from "./standin-calendar.ts";

export interface StandinRequest {
  method: string;
  path: string;
  query: string;
  status: number;
}

interface Fault {
  status: number;
  retryAfter?: string;
  remaining: number;
  target: "api" | "token";
  /** Google's error reason and message (default: rateLimitExceeded for 429, backendError otherwise). */
  reason?: string;
  message?: string;
  /** Only requests with this method. */
  method?: string;
  /** The request is carried out, then the connection drops before the answer (a lost response). */
  lost?: boolean;
}

export interface GoogleStandin {
  /** http://127.0.0.1:port/ — pass as the backend's apiRoot. */
  apiRoot: string;
  tokenUrl: string;
  auth: StandinAuth;
  /** Every request seen, in order. */
  requests: StandinRequest[];
  createCalendar(id?: string): StandinCalendar;
  calendar(id: string): StandinCalendar;
  createServiceAccount(): Promise<Record<string, string>>;
  /** The next `count` requests to `target` fail with `status` (and Retry-After, reason, message, if given). */
  injectFaults(status: number, count: number, opts?: { retryAfter?: string; target?: "api" | "token"; reason?: string; message?: string; method?: string }): void;
  /** The next `count` API requests (with `method`, if given) are carried out, but their answer is lost (the connection drops). */
  loseResponses(count: number, method?: string): void;
  /** Drops faults not yet served. */
  clearFaults(): void;
  /**
   * Google's "per minute per project per user" quota, where the user is "the
   * user or service account performing the request, not necessarily the user
   * who owns the calendar being accessed" (Manage quotas guide): at most
   * `requests` API calls per `windowMs` (sliding) per account or delegated
   * user, across all calendars; beyond it 403 usageLimits rateLimitExceeded.
   * Off (undefined) by default.
   */
  perUserQuota: { requests: number; windowMs: number } | undefined;
  close(): Promise<void>;
}

function errorBody(status: number, reason: string, message: string) {
  return { error: { errors: [{ domain: "global", reason, message }], code: status, message } };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startGoogleStandin(): Promise<GoogleStandin> {
  let base = "";
  const calendars = new Map<string, StandinCalendar>();
  const faults: Fault[] = [];
  const requests: StandinRequest[] = [];
  const auth = new StandinAuth(() => `${base}token`);
  const callsBy = new Map<string, number[]>();
  const quota: { perUserQuota: GoogleStandin["perUserQuota"] } = { perUserQuota: undefined };

  const takeFault = (target: Fault["target"], method: string, lost = false): Fault | undefined => {
    const f = faults.find((x) => x.target === target && x.remaining > 0 && !!x.lost === lost && (!x.method || x.method === method));
    if (f) f.remaining--;
    return f;
  };

  const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { ...(body === undefined ? {} : { "content-type": "application/json; charset=UTF-8" }), ...headers });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? "/", base);
    const method = req.method ?? "GET";
    if (url.pathname === "/token") {
      if (method !== "POST") return (send(res, 405, { error: "invalid_request" }), 405);
      const fault = takeFault("token", method);
      if (fault) return (send(res, fault.status, { error: "temporarily_unavailable" }, fault.retryAfter ? { "retry-after": fault.retryAfter } : {}), fault.status);
      const reply = await auth.exchange(new URLSearchParams(await readBody(req)));
      send(res, reply.status, reply.body, { "cache-control": "no-cache, no-store, max-age=0, must-revalidate" });
      return reply.status;
    }
    const m = /^\/calendar\/v3\/calendars\/([^/]+)\/events(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return (send(res, 404, errorBody(404, "notFound", "Not Found")), 404);
    const caller = auth.callerOf(req.headers.authorization);
    if (!caller) {
      const body = {
        error: {
          code: 401,
          message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
          errors: [{ message: "Invalid Credentials", domain: "global", reason: "authError", location: "Authorization", locationType: "header" }],
          status: "UNAUTHENTICATED",
        },
      };
      send(res, 401, body, { "www-authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
      return 401;
    }
    if (quota.perUserQuota) {
      const who = caller.subject ?? caller.account;
      const now = Date.now();
      const recent = (callsBy.get(who) ?? []).filter((t) => t > now - quota.perUserQuota!.windowMs);
      if (recent.length >= quota.perUserQuota.requests) {
        callsBy.set(who, recent);
        send(res, 403, { error: { errors: [{ domain: "usageLimits", reason: "rateLimitExceeded", message: "Rate Limit Exceeded" }], code: 403, message: "Rate Limit Exceeded" } });
        return 403;
      }
      callsBy.set(who, [...recent, now]);
    }
    const fault = takeFault("api", method);
    if (fault) {
      const reason = fault.reason ?? (fault.status === 429 ? "rateLimitExceeded" : "backendError");
      const message = fault.message ?? (fault.status === 429 ? "Rate Limit Exceeded" : "Backend Error");
      send(res, fault.status, errorBody(fault.status, reason, message), fault.retryAfter ? { "retry-after": fault.retryAfter } : {});
      return fault.status;
    }
    const lost = takeFault("api", method, true);
    const cal = calendars.get(decodeURIComponent(m[1]!));
    if (!cal) return (send(res, 404, errorBody(404, "notFound", "Not Found")), 404);
    const eventId = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    const ifMatch = typeof req.headers["if-match"] === "string" ? req.headers["if-match"] : undefined;
    const json = async (): Promise<GEvent> => {
      const text = await readBody(req);
      try {
        const v = JSON.parse(text || "{}");
        if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
        return v as GEvent;
      } catch {
        throw new StandinHttpError(400, "parseError", "Parse Error");
      }
    };
    let status = 200;
    let body: unknown;
    if (eventId === undefined && method === "GET") body = cal.list(url.searchParams);
    else if (eventId === undefined && method === "POST") body = cal.insert(await json(), caller);
    else if (eventId !== undefined && method === "GET") body = cal.get(eventId);
    else if (eventId !== undefined && method === "PUT") body = cal.write(eventId, await json(), ifMatch, "update", caller);
    else if (eventId !== undefined && method === "PATCH") body = cal.write(eventId, await json(), ifMatch, "patch", caller);
    else if (eventId !== undefined && method === "DELETE") {
      cal.delete(eventId, ifMatch);
      status = 204;
    } else return (send(res, 405, errorBody(405, "httpMethodNotAllowed", "Method Not Allowed")), 405);
    if (lost) {
      // Done on the server, never answered: the client sees a dropped connection.
      res.socket?.destroy();
      return 0;
    }
    if (body && typeof body === "object" && "etag" in body && typeof body.etag === "string") res.setHeader("etag", body.etag);
    send(res, status, body);
    return status;
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    handle(req, res)
      .then((status) => requests.push({ method: req.method ?? "", path: url.pathname, query: url.search, status }))
      .catch((e: unknown) => {
        const status = e instanceof StandinHttpError ? e.status : 500;
        const reason = e instanceof StandinHttpError ? e.reason : "backendError";
        const message = e instanceof Error ? e.message : String(e);
        requests.push({ method: req.method ?? "", path: url.pathname, query: url.search, status });
        if (!res.headersSent) send(res, status, errorBody(status, reason, message));
        else res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  return {
    get perUserQuota() {
      return quota.perUserQuota;
    },
    set perUserQuota(v) {
      quota.perUserQuota = v;
      callsBy.clear();
    },
    apiRoot: base,
    tokenUrl: `${base}token`,
    auth,
    requests,
    createCalendar(id = `cal-${crypto.randomUUID()}@group.calendar.standin`) {
      const c = new StandinCalendar(id);
      calendars.set(id, c);
      return c;
    },
    calendar(id) {
      const c = calendars.get(id);
      if (!c) throw new Error(`no stand-in calendar ${id}`);
      return c;
    },
    createServiceAccount: () => auth.createServiceAccount(),
    injectFaults(status, count, opts = {}) {
      faults.push({
        status,
        remaining: count,
        target: opts.target ?? "api",
        ...(opts.retryAfter !== undefined ? { retryAfter: opts.retryAfter } : {}),
        ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
        ...(opts.message !== undefined ? { message: opts.message } : {}),
        ...(opts.method !== undefined ? { method: opts.method } : {}),
      });
    },
    loseResponses(count, method) {
      faults.push({ status: 0, remaining: count, target: "api", lost: true, ...(method ? { method } : {}) });
    },
    clearFaults() {
      faults.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
