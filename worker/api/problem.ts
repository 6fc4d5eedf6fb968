import { LabhogError } from "../../calendar/errors.ts";

/** RFC 9457 problem details. `type` is a stable URI per error code. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export const PROBLEM_BASE = "https://labhog.dev/problems/";

const titles: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export function problem(status: number, code: string, detail: string, extensions: Record<string, unknown> = {}, headers: Record<string, string> = {}): Response {
  const body: Problem = { type: PROBLEM_BASE + code, title: titles[status] ?? "Error", status, detail, ...extensions };
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/problem+json", ...headers } });
}

/** A LabhogError as problem JSON; its `detail` object becomes extension members. */
export function problemFromError(e: LabhogError): Response {
  const ext: Record<string, unknown> = { ...(e.detail ?? {}) };
  const headers: Record<string, string> = {};
  // 503 always says when to come back: the server's hint, else a modest default.
  if (e.status === 503) headers["retry-after"] = String(typeof ext.retryAfter === "number" && ext.retryAfter > 0 ? Math.ceil(ext.retryAfter) : 10);
  if (e.status === 401) headers["www-authenticate"] = 'Bearer realm="labhog"';
  return problem(e.status, e.code, e.message, ext, headers);
}

/** Errors crossing Durable Object RPC lose their class; they travel as this plain shape. */
export interface WireError {
  code: string;
  status: number;
  message: string;
  detail?: Record<string, unknown>;
}

export function toWire(e: unknown): WireError {
  if (e instanceof LabhogError) return { code: e.code, status: e.status, message: e.message, ...(e.detail ? { detail: e.detail } : {}) };
  return { code: "internal", status: 500, message: "internal error" };
}

export function fromWire(w: WireError): LabhogError {
  return new LabhogError(w.code, w.status, w.message, w.detail);
}
