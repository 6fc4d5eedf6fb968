import { createRoute, type OpenAPIHono, type z } from "@hono/zod-openapi";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { ForbiddenError, NotFoundError } from "../../calendar/errors.ts";
import { isPool, isResource } from "../../calendar/lab.ts";
import type { AppEnv } from "../api/app.ts";
import { ProblemSchema } from "../api/schemas.ts";
import type { Principal } from "../auth/principal.ts";
import { isAdmin } from "../auth/rights.ts";
import type { Env } from "../env.ts";
import { ledgerOf, unwrap } from "../ledger/client.ts";
import type { ResourceSnapshot } from "../ledger/protocol.ts";
import { log } from "../log.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";
import { NOTICE_ID, newNoticeId, NoticeBodySchema, NoticeIdParamSchema, NoticeListSchema, NoticeQuerySchema, NoticeSchema, noticeUntil, type Notice } from "./model.ts";

/**
 * POST/GET/DELETE /api/v1/notices. A notice for several resources is one id
 * stored in each resource's ledger (notices travel with each resource's own
 * signed schedule and calendar); the API joins them back by id.
 */

type Add = <R extends ReturnType<typeof createRoute>>(route: R) => R;
type ApiNotice = Notice & { resources: string[] };

const problemJson = { "application/problem+json": { schema: ProblemSchema } };
const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, { description: "problem", content: problemJson }]));
const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });
const secured = [{ bearer: [] }];

function targetsOf(lab: LabConfig, b: z.infer<typeof NoticeBodySchema>): string[] {
  if (b.all) return Object.keys(lab.resources);
  if (b.pool !== undefined) {
    if (!isPool(lab, b.pool)) throw new NotFoundError(`no pool ${b.pool}`, { pool: b.pool });
    const ids = Object.entries(lab.resources).filter(([, r]) => r.pool === b.pool).map(([id]) => id);
    if (!ids.length) throw new NotFoundError(`pool ${b.pool} has no resources`, { pool: b.pool });
    return ids;
  }
  const ids = [...new Set(b.resources ?? [])];
  for (const id of ids) if (!isResource(lab, id)) throw new NotFoundError(`no resource ${id}`, { resource: id });
  return ids;
}

/** Admins of a resource may send it a notice; otherwise only the user holding it right now. */
async function assertMayNotice(env: Env, lab: LabConfig, p: Principal, resources: string[]): Promise<void> {
  for (const id of resources) {
    if (isAdmin(p, lab, id)) continue;
    if (p.kind !== "user") throw new ForbiddenError(`${p.kind} ${p.id} may not send notices`, { resource: id });
    const snap = await unwrap<ResourceSnapshot>(ledgerOf(env, id).snapshot(id));
    const holds = snap.current.some((r) => !isUnbookedUse(r) && r.holder.id === p.id);
    if (!holds) throw new ForbiddenError(`only an admin of ${id} or the user holding it now may send it a notice`, { resource: id });
  }
}

/** Every resource's standing notices, joined by id. A ledger that can't answer is left out (logged), not a failed list. */
async function allNotices(env: Env, lab: LabConfig, only?: string): Promise<ApiNotice[]> {
  const ids = only ? [only] : Object.keys(lab.resources);
  const lists = await Promise.all(
    ids.map((id) =>
      unwrap<Notice[]>(ledgerOf(env, id).notices(id)).catch((e: unknown) => {
        if (only) throw e;
        log.warn("notices of a resource unavailable", { resource: id, error: e });
        return [] as Notice[];
      }),
    ),
  );
  const byId = new Map<string, ApiNotice>();
  lists.forEach((list, i) => {
    for (const n of list) {
      const had = byId.get(n.id);
      if (had) had.resources.push(ids[i]!);
      else byId.set(n.id, { ...n, resources: [ids[i]!] });
    }
  });
  return [...byId.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

export function registerNoticeRoutes(app: OpenAPIHono<AppEnv>, add: Add): void {
  app.openapi(
    add(
      createRoute({
        method: "post",
        path: "/api/v1/notices",
        security: secured,
        request: { body: { content: { "application/json": { schema: NoticeBodySchema } }, required: true } },
        responses: { 201: json(NoticeSchema, "the notice, on every resource it is for"), ...errors(400, 401, 403, 404, 503) },
      }),
    ),
    async (c) => {
      const b = c.req.valid("json");
      const { env, lab, principal } = c.var;
      const resources = targetsOf(lab, b);
      await assertMayNotice(env, lab, principal, resources);
      const now = Date.now();
      const notice: Notice = { id: newNoticeId(), text: b.text.trim(), until: noticeUntil(b.until, now), by: principal.id, createdAt: new Date(now).toISOString() };
      const done: string[] = [];
      try {
        for (const id of resources) {
          await unwrap<Notice>(ledgerOf(env, id).addNotice(id, notice));
          done.push(id);
        }
      } catch (e) {
        // All or none, like a multi-resource booking: the resources that took it drop it again.
        await Promise.all(done.map((id) => unwrap(ledgerOf(env, id).deleteNotice(id, notice.id)).catch((u: unknown) => log.warn("notice not withdrawn", { resource: id, error: u }))));
        throw e;
      }
      return c.json({ ...notice, resources }, 201);
    },
  );

  app.openapi(
    add(createRoute({ method: "get", path: "/api/v1/notices", security: secured, request: { query: NoticeQuerySchema }, responses: { 200: json(NoticeListSchema, "standing notices"), ...errors(400, 401, 404) } })),
    async (c) => {
      const only = c.req.valid("query").resource;
      if (only !== undefined && !isResource(c.var.lab, only)) throw new NotFoundError(`no resource ${only}`, { resource: only });
      return c.json({ notices: await allNotices(c.var.env, c.var.lab, only) }, 200);
    },
  );

  app.openapi(
    add(createRoute({ method: "delete", path: "/api/v1/notices/{id}", security: secured, request: { params: NoticeIdParamSchema }, responses: { 200: json(NoticeSchema, "deleted everywhere, its calendar events too"), ...errors(400, 401, 403, 404, 503) } })),
    async (c) => {
      const id = c.req.valid("param").id;
      const { env, lab, principal } = c.var;
      if (!NOTICE_ID.test(id)) throw new NotFoundError(`no notice ${id}`);
      const n = (await allNotices(env, lab)).find((x) => x.id === id);
      if (!n) throw new NotFoundError(`no notice ${id}`);
      // Its sender, or an admin of every resource it is on.
      const mine = principal.kind === "user" && n.by === principal.id;
      const denied = mine ? [] : n.resources.filter((r) => !isAdmin(principal, lab, r));
      if (denied.length) throw new ForbiddenError(`only its sender or an admin of ${denied.join(", ")} may delete this notice`, { resource: denied[0] });
      for (const r of n.resources) await unwrap<boolean>(ledgerOf(env, r).deleteNotice(r, id));
      return c.json(n, 200);
    },
  );
}
