import { LabhogError, UnavailableError } from "../../calendar/errors.ts";
import type { Reservation } from "../../calendar/model.ts";
import type { ClientConfig } from "./client-config.ts";

/** The API returns reservations in the model's own shape (worker/api/schemas.ts ReservationSchema). */
export type ApiReservation = Reservation;

export interface ApiResource {
  id: string;
  name: string;
  kind: string;
  pool: string | null;
  tags: Record<string, string>;
  agent: { id: string; status: "online" | "offline" | "unknown"; lastSeen: string | null } | null;
  usage: unknown;
  current: ApiReservation[];
  next: ApiReservation | null;
  conflicts: number;
  /** Whether the booking is in place on the host (ok null: not reported). Absent from older Workers. */
  enforcement?: { ok: boolean | null; problems: string[]; since: string | null; at: string | null };
  /** The Worker answers from a cache older than a few sync intervals: the calendar can't be reached. */
  stale?: boolean;
  unreachableSince?: string | null;
  /** The resource's ledger had not read its calendar yet when the list answered: nothing here is known. */
  syncing?: true;
  /** The calendar can't be reached and was never read: nothing here is known. */
  unreadable?: true;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
  conflicts?: Array<{ id: string; holder: string | null; start: string; end: string }>;
  nextFree?: { start: string; end: string } | null;
}

/** A problem answer from the API as a typed error whose message is one readable line. */
export class ApiProblemError extends LabhogError {
  constructor(readonly problem: Problem, code: string) {
    // The Worker's detail already names the conflicting reservations; add only what it leaves out.
    const head = problem.detail ?? problem.title;
    const parts = [head];
    const fieldErrors = (problem.errors ?? []).map((e) => `${e.path}: ${e.message}`).filter((e) => !head.includes(e));
    if (fieldErrors.length) parts.push(fieldErrors.join("; "));
    if (problem.nextFree && !/next free/i.test(head)) parts.push(`next free ${problem.nextFree.start}`);
    super(code, problem.status, parts.join(" — "), { problem });
  }
}

function errorFor(p: Problem, retryAfter: string | null): LabhogError {
  switch (p.status) {
    case 400:
    case 422:
      return new ApiProblemError(p, "invalid");
    case 401:
      return new ApiProblemError(p, "unauthorized");
    case 403:
      return new ApiProblemError(p, "forbidden");
    case 404:
      return new ApiProblemError(p, "not-found");
    case 409:
      return new ApiProblemError(p, "conflict");
    case 503:
      return new UnavailableError(p.detail ?? p.title, retryAfter ? Number(retryAfter) : undefined);
    default:
      return new ApiProblemError(p, "failed");
  }
}

export class ApiClient {
  constructor(private readonly cfg: ClientConfig, private readonly fetchImpl: typeof fetch = fetch) {}

  async request<T>(method: string, path: string, body?: unknown, opts: { timeoutMs?: number } = {}): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json, application/problem+json" };
    if (this.cfg.token) headers.authorization = `Bearer ${this.cfg.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.cfg.url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
      });
    } catch (e) {
      throw new UnavailableError(`cannot reach ${this.cfg.url}: ${(e as Error).message}`, undefined, { cause: e });
    }
    const text = await res.text();
    if (!res.ok) {
      let problem: Problem;
      try {
        problem = JSON.parse(text) as Problem;
      } catch {
        problem = { type: "about:blank", title: `HTTP ${res.status}`, status: res.status, detail: text.slice(0, 200) };
      }
      throw errorFor({ ...problem, status: res.status }, res.headers.get("retry-after"));
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  resources(query: { pool?: string; tag?: string[] } = {}): Promise<{ resources: ApiResource[] }> {
    const q = new URLSearchParams();
    if (query.pool) q.set("pool", query.pool);
    for (const t of query.tag ?? []) q.append("tag", t);
    return this.request("GET", `/api/v1/resources${q.size ? `?${q}` : ""}`);
  }
  resource(id: string): Promise<ApiResource> {
    return this.request("GET", `/api/v1/resources/${encodeURIComponent(id)}`);
  }
  reservations(query: { resource?: string; holder?: string; pool?: string; from?: string; to?: string } = {}): Promise<{ reservations: ApiReservation[] }> {
    const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
    return this.request("GET", `/api/v1/reservations${q.size ? `?${q}` : ""}`);
  }
  reservation(id: string): Promise<ApiReservation> {
    return this.request("GET", `/api/v1/reservations/${encodeURIComponent(id)}`);
  }
  create(body: Record<string, unknown>, waitSeconds = 0): Promise<{ reservation: ApiReservation; reservations: ApiReservation[]; grantedAt: string; waited: number }> {
    return this.request("POST", "/api/v1/reservations", body, { timeoutMs: (waitSeconds + 30) * 1000 });
  }
  change(id: string, body: Record<string, unknown>): Promise<ApiReservation> {
    return this.request("PATCH", `/api/v1/reservations/${encodeURIComponent(id)}`, body);
  }
  release(id: string): Promise<ApiReservation> {
    return this.request("POST", `/api/v1/reservations/${encodeURIComponent(id)}/release`);
  }
  keepalive(id: string): Promise<{ id: string; ttl: number; expiresAt: string }> {
    return this.request("POST", `/api/v1/reservations/${encodeURIComponent(id)}/keepalive`);
  }
  me(): Promise<{ kind: "user" | "agent"; id: string; email: string | null; book: string[]; admin: string[] }> {
    return this.request("GET", "/api/v1/me");
  }
}

