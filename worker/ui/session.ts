import type { Context } from "hono";
import { getCookie, setCookie, deleteCookie } from "hono/cookie";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { ForbiddenError, LabhogError, UnauthorizedError } from "../../calendar/errors.ts";
import { authenticate } from "../auth/authenticate.ts";
import type { Principal } from "../auth/principal.ts";
import type { Env } from "../env.ts";

/**
 * The status page signs in with the API's own credentials: a bearer token
 * typed into the sign-in form is kept in an HttpOnly cookie and presented as
 * `Authorization: Bearer` to the same authenticate(); Cloudflare Access
 * assertions and Authorization headers pass through unchanged. Form posts
 * carry a double-submit CSRF token and must come from our own origin.
 */
export const SESSION_COOKIE = "labhog_session";
export const CSRF_COOKIE = "labhog_csrf";
const MAX_AGE = 30 * 86_400;

const secure = (c: Context) => new URL(c.req.url).protocol === "https:";

export function headersFor(c: Context): Headers {
  const h = new Headers();
  const access = c.req.header("cf-access-jwt-assertion");
  if (access) h.set("cf-access-jwt-assertion", access);
  const authz = c.req.header("authorization");
  const token = getCookie(c, SESSION_COOKIE);
  if (authz) h.set("authorization", authz);
  else if (token) h.set("authorization", `Bearer ${token}`);
  return h;
}

/** The signed-in principal, or null (anonymous) with the reason a credential was refused. */
export async function principalOf(c: Context, env: Env, lab: LabConfig): Promise<{ principal: Principal | null; problem?: string }> {
  try {
    return { principal: await authenticate(headersFor(c), env, lab) };
  } catch (e) {
    if (e instanceof UnauthorizedError || e instanceof ForbiddenError) {
      const hadCredential = !!(getCookie(c, SESSION_COOKIE) || c.req.header("authorization") || c.req.header("cf-access-jwt-assertion"));
      return hadCredential ? { principal: null, problem: e.message } : { principal: null };
    }
    throw e;
  }
}

export function setSession(c: Context, token: string): void {
  setCookie(c, SESSION_COOKIE, token, { httpOnly: true, secure: secure(c), sameSite: "Lax", path: "/", maxAge: MAX_AGE });
}

export function clearSession(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: "/", secure: secure(c) });
}

/** The CSRF token of this browser, minted on first sight. */
export function csrfToken(c: Context): string {
  const have = getCookie(c, CSRF_COOKIE);
  if (have && /^[A-Za-z0-9_-]{20,64}$/.test(have)) return have;
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  const t = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  setCookie(c, CSRF_COOKIE, t, { httpOnly: true, secure: secure(c), sameSite: "Strict", path: "/", maxAge: MAX_AGE });
  return t;
}

function sameBytes(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

/** Refuses a form post whose CSRF token does not match the cookie, or that comes from another origin. */
export function assertCsrf(c: Context, form: Record<string, unknown>): void {
  const origin = c.req.header("origin");
  if (origin && origin !== "null" && origin !== new URL(c.req.url).origin) throw new LabhogError("csrf", 403, "form posted from another site");
  const cookie = getCookie(c, CSRF_COOKIE);
  const sent = typeof form.csrf === "string" ? form.csrf : "";
  if (!cookie || !sent || !sameBytes(cookie, sent)) throw new LabhogError("csrf", 403, "the form expired: reload the page and try again");
}
