import type { Context, Hono } from "hono";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { LabhogError, NotFoundError, UnauthorizedError } from "../../calendar/errors.ts";
import { isPool, isResource, poolConfigOf, resourceConfigOf } from "../../calendar/lab.ts";
import { authenticate, authOff } from "../auth/authenticate.ts";
import { sha256Hex } from "../auth/tokens.ts";
import { effectiveEnv, type Env } from "../env.ts";
import { labOf } from "../lab.ts";
import { listReservations, listResources } from "../api/views.ts";
import { problem, problemFromError } from "../api/problem.ts";
import { liveUsageOf } from "../usage/live.ts";
import { feedIcs, type FeedEvent } from "./ics.ts";

/**
 * GET /feeds/<resource>.ics and /feeds/pool/<pool>.ics — subscribable with
 * webcal://. Calendar apps rarely send headers, so besides Authorization
 * (Bearer, or Basic with the token as password) the API token may ride in
 * `?token=`. Public when auth is off or FEEDS_PUBLIC=true.
 */
const PAST_MS = 14 * 86_400_000;
const FUTURE_MS = 90 * 86_400_000;
const REFRESH_MINUTES = 5;

async function assertMayRead(c: Context, env: Env, lab: LabConfig): Promise<void> {
  if (authOff(env) || env.FEEDS_PUBLIC === "true") return;
  const h = new Headers();
  const authz = c.req.header("authorization");
  const basic = authz && /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authz.trim());
  const query = c.req.query("token");
  if (basic) {
    const decoded = atob(basic[1]!);
    h.set("authorization", `Bearer ${decoded.slice(decoded.indexOf(":") + 1)}`);
  } else if (authz) h.set("authorization", authz);
  else if (query) h.set("authorization", `Bearer ${query}`);
  const access = c.req.header("cf-access-jwt-assertion");
  if (access) h.set("cf-access-jwt-assertion", access);
  const p = await authenticate(h, env, lab);
  if (p.kind !== "user") throw new UnauthorizedError("feeds are for users");
}

async function serve(c: Context, events: () => Promise<FeedEvent[]>, name: string, file: string): Promise<Response> {
  const env = effectiveEnv(c.env as Env);
  const lab = labOf(env);
  try {
    await assertMayRead(c, env, lab);
    const url = new URL(c.req.url);
    const body = feedIcs(await events(), { name, withResource: file.startsWith("pool-"), statusUrl: `${url.origin}/status`, refreshMinutes: REFRESH_MINUTES });
    const etag = `"${(await sha256Hex(body)).slice(0, 32)}"`;
    const headers = {
      "content-type": "text/calendar; charset=utf-8",
      "content-disposition": `inline; filename="${file}.ics"`,
      "cache-control": `private, max-age=${REFRESH_MINUTES * 60 / 5}, must-revalidate`,
      etag,
      vary: "Authorization, Cookie",
    };
    const inm = c.req.header("if-none-match");
    if (inm && inm.split(",").some((t) => t.trim().replace(/^W\//, "") === etag)) return new Response(null, { status: 304, headers });
    return new Response(c.req.method === "HEAD" ? null : body, { status: 200, headers });
  } catch (e) {
    if (e instanceof LabhogError) {
      const res = problemFromError(e);
      if (e.status === 401) res.headers.set("www-authenticate", 'Basic realm="labhog feeds", Bearer realm="labhog"');
      return res;
    }
    throw e;
  }
}

async function eventsFor(env: Env, lab: LabConfig, resources: string[], pool?: string): Promise<FeedEvent[]> {
  const now = Date.now();
  const [rs, views] = await Promise.all([
    listReservations(env, lab, { ...(pool ? { pool } : { resource: resources[0]! }), from: new Date(now - PAST_MS).toISOString(), to: new Date(now + FUTURE_MS).toISOString() }, { unbookedUse: true }),
    listResources(env, lab, pool ? { pool } : {}),
  ]);
  const live = new Map(views.filter((v) => resources.includes(v.id)).map((v) => [v.id, liveUsageOf(v.usage, v.id)]));
  return rs.filter((r) => resources.includes(r.resource)).map((r) => ({ r, resourceName: resourceConfigOf(lab, r.resource)?.name ?? r.resource, live: live.get(r.resource) ?? null }));
}

export function registerFeeds(app: Hono<any>): void {
  app.get("/feeds/pool/:file{[A-Za-z0-9][A-Za-z0-9._-]{0,127}\\.ics}", async (c) => {
    const pool = c.req.param("file").slice(0, -4);
    const env = effectiveEnv(c.env as Env);
    const lab = labOf(env);
    if (!isPool(lab, pool)) return problem(404, "not-found", `no pool ${pool}`);
    const members = Object.entries(lab.resources).filter(([, r]) => r.pool === pool).map(([id]) => id);
    return serve(c, () => eventsFor(env, lab, members, pool), `labhog ${lab.site}: ${poolConfigOf(lab, pool)?.name ?? pool}`, `pool-${pool}`);
  });

  app.get("/feeds/:file{[A-Za-z0-9][A-Za-z0-9._-]{0,127}\\.ics}", async (c) => {
    const resource = c.req.param("file").slice(0, -4);
    const env = effectiveEnv(c.env as Env);
    const lab = labOf(env);
    if (!isResource(lab, resource)) return problemFromError(new NotFoundError(`no resource ${resource}`));
    return serve(c, () => eventsFor(env, lab, [resource]), `labhog ${lab.site}: ${resourceConfigOf(lab, resource)?.name ?? resource}`, resource);
  });
}
