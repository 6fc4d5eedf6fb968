import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { LabhogError, NotFoundError, ValidationError } from "../../calendar/errors.ts";
import { isResource, userConfigOf } from "../../calendar/lab.ts";
import { protoKeyPaths } from "../../calendar/config/own.ts";
import { authenticate } from "../auth/authenticate.ts";
import type { Principal } from "../auth/principal.ts";
import { assertMayChange, canBook, isAdmin } from "../auth/rights.ts";
import { effectiveEnv, type Env } from "../env.ts";
import { labOf } from "../lab.ts";
import { forApi, ledgerOf, splitApiId, unwrap } from "../ledger/client.ts";
import type { LeaseInfo, ReservationChange } from "../ledger/protocol.ts";
import { log } from "../log.ts";
import { publicJwkOf, signingKeyOf } from "../schedule/signing-key.ts";
import { createReservations } from "./booking.ts";
import { registerNoticeRoutes } from "../notices/routes.ts";
import { loadStats, StatsQuerySchema, StatsSchema, statsWindow } from "../stats/api.ts";
import { problem, problemFromError } from "./problem.ts";
import { LedgerTimings, serverTiming } from "./server-timing.ts";
import { listReservationsFresh, listResources, listWaitOf, resourceView } from "./views.ts";
import {
  ChangeReservationSchema,
  CreateReservationSchema,
  CreatedSchema,
  IdParamSchema,
  LeaseSchema,
  MeSchema,
  ProblemSchema,
  ReservationListSchema,
  ReservationQuerySchema,
  ReservationReadSchema,
  ReservationSchema,
  ResourceIdParamSchema,
  ResourceListSchema,
  ResourceQuerySchema,
  ResourceSchema,
  ScopeQuerySchema,
  durationMs,
} from "./schemas.ts";
import type { Reservation } from "../../calendar/model.ts";

export type AppEnv = { Bindings: Env; Variables: { env: Env; lab: LabConfig; principal: Principal } };

const problemJson = { "application/problem+json": { schema: ProblemSchema } };
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, { description: "problem", content: problemJson }]));
const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const secured = [{ bearer: [] }];

/** Zod issues as problem `errors`: path and reason for each. */
function validationProblem(error: z.ZodError, where: string): Response {
  const errs = error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join("."), message: i.message }));
  return problem(400, "invalid", `invalid ${where}: ${errs.map((e) => `${e.path}: ${e.message}`).join("; ")}`, { errors: errs });
}

function reservationRef(idParam: string): { resource: string; id: string } {
  const ref = splitApiId(idParam);
  if (!ref) throw new NotFoundError(`no reservation ${idParam}: ids look like <resource>:<event id>`);
  return ref;
}

export function createApp(): OpenAPIHono<AppEnv> {
  const routes: Array<{ method: string; pattern: RegExp }> = [];
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return validationProblem(result.error, result.target === "json" ? "body" : result.target);
      return undefined;
    },
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", description: "API token or OIDC / Cloudflare Access JWT" });

  const add = <R extends ReturnType<typeof createRoute>>(route: R) => {
    const pattern = new RegExp("^" + route.path.replace(/\{[^}]+\}/g, "[^/]+") + "$");
    routes.push({ method: route.method.toUpperCase(), pattern });
    return route;
  };

  // First, so that its total covers the middleware below too.
  app.on("POST", "/api/v1/reservations", serverTiming());
  // Every /api/v1 answer: the lab config, then who is calling.
  app.use("/api/v1/*", bodyLimit({ maxSize: 64 * 1024, onError: (c) => problem(413, "too-large", "request body larger than 64 KiB") }));
  app.use("/api/v1/*", async (c, next) => {
    const env = effectiveEnv(c.env);
    const lab = labOf(env);
    c.set("env", env);
    c.set("lab", lab);
    c.set("principal", await authenticate(c.req.raw.headers, env, lab));
    await next();
  });
  // zod drops `__proto__` keys without a word, so `{"tags": {"__proto__": "x", "soc": "rk3588"}}` would
  // book on `soc` alone: such keys are refused. (JSON.parse keeps them as own properties.)
  app.use("/api/v1/*", async (c, next) => {
    const media = (c.req.header("content-type") ?? "").split(";")[0]!.trim();
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && /^application\/([\w.-]+\+)?json$/i.test(media)) {
      const text = await c.req.text();
      let parsed: unknown;
      try {
        parsed = text.trim() ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined; // malformed: the route's validator answers as before
      }
      const paths = protoKeyPaths(parsed);
      if (paths.length) {
        const errs = paths.map((p) => ({ path: ["body", ...p].join("."), message: '"__proto__" is not accepted as a key' }));
        return problem(400, "invalid", `invalid body: ${errs.map((e) => `${e.path}: ${e.message}`).join("; ")}`, { errors: errs });
      }
    }
    await next();
  });

  // Who the caller is and what they may do: the CLI uses it for "mine".
  app.openapi(
    add(createRoute({ method: "get", path: "/api/v1/me", security: secured, responses: { 200: json(MeSchema, "the authenticated caller"), ...errors(401) } })),
    async (c) => {
      const p = c.var.principal;
      const user = p.kind === "user" ? userConfigOf(c.var.lab, p.id) : undefined;
      const resources = Object.keys(c.var.lab.resources);
      return c.json({
        kind: p.kind,
        id: p.id,
        via: p.via,
        email: user?.email ?? null,
        book: resources.filter((r) => canBook(p, c.var.lab, r)),
        admin: resources.filter((r) => isAdmin(p, c.var.lab, r)),
      }, 200);
    },
  );

  app.openapi(
    add(createRoute({ method: "get", path: "/api/v1/resources", security: secured, request: { query: ResourceQuerySchema }, responses: { 200: json(ResourceListSchema, "resources with live state"), ...errors(400, 401, 403) } })),
    async (c) => {
      const q = c.req.valid("query");
      const tags = Object.fromEntries(
        (q.tag === undefined ? [] : Array.isArray(q.tag) ? q.tag : [q.tag]).map((t) => {
          const i = t.indexOf("=");
          if (i <= 0) throw new ValidationError(`tag filter "${t}" is not k=v`, { path: "query.tag" });
          return [t.slice(0, i), t.slice(i + 1)];
        }),
      );
      // A cold lab answers within LIST_WAIT_MS: ledgers still waking come back marked `syncing` and go on syncing.
      const resources = await listResources(c.var.env, c.var.lab, { ...(q.pool ? { pool: q.pool } : {}), tags }, { waitMs: listWaitOf(c.var.env), waitUntil: (p) => c.executionCtx.waitUntil(p) });
      return c.json({ resources }, 200);
    },
  );

  app.openapi(
    add(createRoute({ method: "get", path: "/api/v1/resources/{id}", security: secured, request: { params: ResourceIdParamSchema }, responses: { 200: json(ResourceSchema, "one resource with live state"), ...errors(400, 401, 404) } })),
    async (c) => c.json(await resourceView(c.var.env, c.var.lab, c.req.valid("param").id), 200),
  );

  app.openapi(
    add(createRoute({ method: "get", path: "/api/v1/reservations", security: secured, request: { query: ReservationQuerySchema }, responses: { 200: json(ReservationListSchema, "reservations in the window"), ...errors(400, 401, 404) } })),
    async (c) => c.json(await listReservationsFresh(c.var.env, c.var.lab, c.req.valid("query")), 200),
  );

  app.openapi(
    add(createRoute({ method: "get", path: "/api/v1/reservations/{id}", security: secured, request: { params: IdParamSchema }, responses: { 200: json(ReservationReadSchema, "the reservation, with the freshness of the answer"), ...errors(400, 401, 404, 503) } })),
    async (c) => {
      const ref = reservationRef(c.req.valid("param").id);
      if (!isResource(c.var.lab, ref.resource)) throw new NotFoundError(`no resource ${ref.resource}`, { resource: ref.resource });
      const r = await unwrap<Reservation & { lastSync: string | null; stale: boolean }>(ledgerOf(c.var.env, ref.resource).get(ref.resource, ref.id));
      return c.json({ ...forApi(r), lastSync: r.lastSync, stale: r.stale }, 200);
    },
  );

  app.openapi(
    add(
      createRoute({
        method: "post",
        path: "/api/v1/reservations",
        security: secured,
        request: { body: { content: { "application/json": { schema: CreateReservationSchema } }, required: true } },
        responses: { 201: json(CreatedSchema, "granted"), ...errors(400, 401, 403, 404, 409, 503) },
      }),
    ),
    async (c) => {
      const timings = new LedgerTimings();
      const created = await createReservations(c.var.env, c.var.lab, c.var.principal, c.req.valid("json"), timings);
      timings.report(c);
      return c.json({ reservation: created.reservations[0]!, ...created }, 201);
    },
  );

  /** Loads the reservation and checks the caller may change it. */
  const owned = async (c: Context<AppEnv>, idParam: string) => {
    const ref = reservationRef(idParam);
    if (!isResource(c.var.lab, ref.resource)) throw new NotFoundError(`no resource ${ref.resource}`, { resource: ref.resource });
    const r = await unwrap<Reservation>(ledgerOf(c.var.env, ref.resource).get(ref.resource, ref.id));
    assertMayChange(c.var.principal, c.var.lab, ref.resource, r.holder.id);
    return { ref, r, ledger: ledgerOf(c.var.env, ref.resource) };
  };

  app.openapi(
    add(
      createRoute({
        method: "patch",
        path: "/api/v1/reservations/{id}",
        security: secured,
        request: { params: IdParamSchema, query: ScopeQuerySchema, body: { content: { "application/json": { schema: ChangeReservationSchema } }, required: true } },
        responses: { 200: json(ReservationSchema, "changed (extended, shortened or moved); for scope=following the first occurrence of the new series"), ...errors(400, 401, 403, 404, 409, 422) },
      }),
    ),
    async (c) => {
      const { ref, r, ledger } = await owned(c, c.req.valid("param").id);
      const b = c.req.valid("json");
      const change: ReservationChange = { scope: c.req.valid("query").scope };
      if (b.start) change.start = b.start;
      if (b.purpose !== undefined) change.purpose = b.purpose;
      if (b.end) change.end = b.end;
      else if (b.duration !== undefined) change.end = new Date(Date.parse(b.start ?? r.start) + durationMs(b.duration)).toISOString();
      else if (b.extendBy !== undefined) change.end = new Date(Date.parse(r.end) + durationMs(b.extendBy)).toISOString();
      else if (b.start) change.end = new Date(Date.parse(b.start) + (Date.parse(r.end) - Date.parse(r.start))).toISOString();
      return c.json(forApi(await unwrap<Reservation>(ledger.change(ref.resource, ref.id, change))), 200);
    },
  );

  app.openapi(
    add(createRoute({ method: "post", path: "/api/v1/reservations/{id}/release", security: secured, request: { params: IdParamSchema }, responses: { 200: json(ReservationSchema, "ended now (or cancelled when it had not started)"), ...errors(400, 401, 403, 404, 409, 422) } })),
    async (c) => {
      const { ref, ledger } = await owned(c, c.req.valid("param").id);
      return c.json(forApi(await unwrap<Reservation>(ledger.release(ref.resource, ref.id))), 200);
    },
  );

  app.openapi(
    add(createRoute({ method: "delete", path: "/api/v1/reservations/{id}", security: secured, request: { params: IdParamSchema, query: ScopeQuerySchema }, responses: { 200: json(ReservationSchema, "cancelled"), ...errors(400, 401, 403, 404, 409, 422) } })),
    async (c) => {
      const { ref, ledger } = await owned(c, c.req.valid("param").id);
      return c.json(forApi(await unwrap<Reservation>(ledger.cancel(ref.resource, ref.id, c.req.valid("query").scope))), 200);
    },
  );

  app.openapi(
    add(createRoute({ method: "post", path: "/api/v1/reservations/{id}/keepalive", security: secured, request: { params: IdParamSchema }, responses: { 200: json(LeaseSchema, "lease renewed"), ...errors(400, 401, 403, 404, 409) } })),
    async (c) => {
      const { ref, ledger } = await owned(c, c.req.valid("param").id);
      const lease = await unwrap<LeaseInfo>(ledger.keepalive(ref.resource, ref.id));
      return c.json({ ...lease, id: `${ref.resource}:${lease.id}` }, 200);
    },
  );

  // Usage statistics, read from the calendars (worker/stats).
  app.openapi(
    add(createRoute({ method: "get", path: "/api/v1/stats", security: secured, request: { query: StatsQuerySchema }, responses: { 200: json(StatsSchema, "hours booked, used, idle, unbooked use, no-shows and utilisation per group"), ...errors(400, 401, 503) } })),
    async (c) => c.json(await loadStats(c.var.env, c.var.lab, statsWindow(c.req.valid("query"))), 200),
  );

  // Notices to the people on a resource (worker/notices).
  registerNoticeRoutes(app, add);

  app.openapi(
    add(createRoute({ method: "get", path: "/api/v1/schedule-keys", responses: { 200: json(z.object({ keys: z.array(z.record(z.string(), z.unknown())) }), "public keys that verify schedules (JWKS)") } })),
    async (c) => {
      const key = signingKeyOf(c.var.env);
      return c.json({ keys: key ? [publicJwkOf(key) as Record<string, unknown>] : [] }, 200);
    },
  );

  app.doc31("/openapi.json", { openapi: "3.1.0", info: { title: "labhog booking API", version: "1" } });
  routes.push({ method: "GET", pattern: /^\/openapi\.json$/ });

  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    const allowed = routes.filter((r) => r.pattern.test(path)).map((r) => r.method);
    if (allowed.length) return problem(405, "method-not-allowed", `${c.req.method} is not allowed on ${path}`, {}, { allow: [...new Set(allowed)].join(", ") });
    return problem(404, "not-found", `nothing at ${path}`);
  });

  app.onError((e, c) => {
    if (e instanceof LabhogError) return problemFromError(e);
    if (e instanceof HTTPException) return problem(e.status, e.status === 400 ? "invalid" : "http", e.message || "bad request");
    if (e instanceof SyntaxError) return problem(400, "invalid", "malformed JSON body");
    log.error("unhandled error", { error: e, path: new URL(c.req.url).pathname });
    return problem(500, "internal", "internal error");
  });
  return app;
}
