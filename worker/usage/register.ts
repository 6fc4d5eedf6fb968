import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { ForbiddenError, ValidationError } from "../../calendar/errors.ts";
import { resourceConfigOf } from "../../calendar/lab.ts";
import type { AppEnv } from "../api/app.ts";
import { ProblemSchema } from "../api/schemas.ts";
import { ledgerOf, unwrap } from "../ledger/client.ts";
import { liveUsageOf } from "./live.ts";
import type { MirrorOutcome } from "./mirror.ts";

/**
 * POST /api/v1/agents/{id}/usage — what the edge agent's UsagePublisher
 * sends: `{agent, at, resources: {<resource>: snapshot}}`. Only that agent's
 * own token may post, and only for resources the lab says it serves; the
 * whole report is refused otherwise (nothing is written).
 */
const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "letters, digits, '.', '_' or '-' (at most 128)");

export const UsageReportSchema = z
  .strictObject({
    agent: id,
    at: z.iso.datetime({ offset: true }),
    resources: z.record(id, z.unknown()).refine((r) => Object.keys(r).length <= 64, "at most 64 resources per report"),
  })
  .openapi("UsageReport");

const OutcomeSchema = z.object({
  accepted: z.array(z.string()),
  results: z.record(z.string(), z.object({ wrote: z.string(), reservation: z.string().optional(), unbooked: z.string().optional(), noShows: z.array(z.string()) })),
});

const problemJson = { "application/problem+json": { schema: ProblemSchema } };
const errs = Object.fromEntries([400, 401, 403, 404].map((c) => [c, { description: "problem", content: problemJson }]));

export function registerUsage(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/v1/agents/{id}/usage",
      security: [{ bearer: [] }],
      request: { params: z.strictObject({ id: id.openapi({ param: { name: "id", in: "path" } }) }), body: { content: { "application/json": { schema: UsageReportSchema } }, required: true } },
      responses: { 202: { description: "mirrored into the calendars", content: { "application/json": { schema: OutcomeSchema } } }, ...errs },
    }),
    async (c) => {
      const agent = c.req.valid("param").id;
      const report = c.req.valid("json");
      const p = c.var.principal;
      const lab = c.var.lab;
      if (p.kind !== "agent" || p.id !== agent) throw new ForbiddenError(`only agent ${agent}'s own token may report its usage`);
      if (report.agent !== agent) throw new ValidationError(`the report names agent ${report.agent}, the URL ${agent}`, { path: "body.agent" });
      const ids = Object.keys(report.resources);
      for (const r of ids) {
        if (resourceConfigOf(lab, r)?.agent !== agent) throw new ForbiddenError(`agent ${agent} does not serve ${r}`, { resource: r });
      }
      const results: Record<string, MirrorOutcome> = {};
      await Promise.all(
        ids.map(async (r) => {
          const live = liveUsageOf(report, r) ?? { at: report.at, sessions: [], power: {}, usb: [] };
          if (!live.at) live.at = new Date(report.at).toISOString();
          results[r] = await unwrap<MirrorOutcome>(ledgerOf(c.var.env, r).mirrorUsage(r, live));
        }),
      );
      return c.json({ accepted: ids, results }, 202);
    },
  );
}
