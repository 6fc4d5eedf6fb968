import type { Context } from "hono";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { ConflictError, ForbiddenError, LabhogError, NotFoundError, UnavailableError } from "../../calendar/errors.ts";
import { isResource } from "../../calendar/lab.ts";
import type { Reservation } from "../../calendar/model.ts";
import type { AppEnv } from "../api/app.ts";
import type { ResourceSnapshot } from "../ledger/protocol.ts";
import { brokerOf, ledgerOf, splitApiId, unwrap, apiId } from "../ledger/client.ts";
import { isAdmin } from "../auth/rights.ts";
import type { Principal } from "../auth/principal.ts";
import { effectiveEnv, type Env } from "../env.ts";
import { labOf } from "../lab.ts";
import { principalOf } from "../ui/session.ts";
import { signingKeyOf } from "../schedule/signing-key.ts";
import { SESSION_HEADER, type ConsoleSession } from "./session.ts";
import { registerConsolePage } from "./page.ts";

/**
 * The board's serial console through the Worker:
 *
 *   GET /api/v1/resources/{id}/console        WebSocket, bearer token (the CLI)
 *   GET /console/{id}                         the same for the status page (its sign-in cookie; same origin only;
 *                                             outside /status, whose security headers would be set on the 101)
 *   GET /api/v1/reservations/{id}/console.log the reservation's log, from its agent
 *
 * Every refusal is problem JSON before the upgrade: 401 without a
 * credential, 403 for anyone but the holder of the running booking (admins
 * may watch with ?watch=1), 409 when nobody holds the resource or it has no
 * console, 426 without an Upgrade header. An accepted socket lives in the
 * Broker Durable Object, next to the MQTT client (worker/console/relay.ts).
 */
export function registerConsole(app: OpenAPIHono<AppEnv>): void {
  registerConsolePage(app);
  app.get("/api/v1/resources/:id/console", (c) => openConsole(c, c.var.env, c.var.lab, c.var.principal));

  app.get("/console/:id", async (c) => {
    const env = effectiveEnv(c.env);
    const lab = labOf(env);
    // A browser sends the sign-in cookie with a WebSocket from any site: only our own pages may use it.
    const origin = c.req.header("origin");
    if (!origin || origin !== new URL(c.req.url).origin) throw new ForbiddenError("the console opens from this site's status page only");
    const { principal, problem } = await principalOf(c, env, lab);
    if (!principal) throw new LabhogError("unauthorized", 401, problem ?? "sign in first");
    return openConsole(c, env, lab, principal);
  });

  app.get("/api/v1/reservations/:id/console.log", async (c) => {
    const env = c.var.env;
    const lab = c.var.lab;
    const idParam = c.req.param("id");
    const ref = splitApiId(idParam);
    if (!ref || !isResource(lab, ref.resource)) throw new NotFoundError(`no reservation ${idParam}: ids look like <resource>:<event id>`);
    const r = await unwrap<Reservation>(ledgerOf(env, ref.resource).get(ref.resource, ref.id));
    const p = c.var.principal;
    if (!(p.kind === "user" && r.holder.id === p.id) && !isAdmin(p, lab, ref.resource)) throw new ForbiddenError(`only the holder or an admin of ${ref.resource} may read this console log`, { resource: ref.resource });
    const reply = await brokerOf(env).consoleLog(ref.resource, r.id);
    if (!reply) throw new UnavailableError(`the agent of ${ref.resource} did not answer with the console log`);
    if (!reply.found || reply.log === undefined) throw new NotFoundError(`no console log for ${apiId(r)} (nobody opened its console, or the agent no longer keeps it)`);
    return c.body(reply.log, 200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
  });
}

/** Decides who gets which session, then hands the upgrade to the Broker. */
async function openConsole(c: Context, env: Env, lab: LabConfig, p: Principal): Promise<Response> {
  const session = await decideSession(env, lab, p, c.req.param("id") ?? "", wantsWatch(c.req.query("watch")));
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new LabhogError("upgrade-required", 426, "the console is a WebSocket: send Upgrade: websocket");
  const headers = new Headers({ upgrade: "websocket", [SESSION_HEADER]: JSON.stringify(session) });
  return brokerOf(env).fetch(new Request("https://broker.internal/console", { headers }));
}

export const wantsWatch = (q: string | undefined) => ["1", "true", "yes"].includes((q ?? "").toLowerCase());

/**
 * Who gets which console session of `resource` now; throws the refusal
 * (404, 409, 403, 503) as a LabhogError. The status page's console page
 * asks the same before it draws a terminal.
 */
export async function decideSession(env: Env, lab: LabConfig, p: Principal, resource: string, watch: boolean): Promise<ConsoleSession> {
  if (!isResource(lab, resource)) throw new NotFoundError(`no resource ${resource}`, { resource });
  const snap = await unwrap<ResourceSnapshot>(ledgerOf(env, resource).snapshot(resource));
  const now = Date.now();
  const current = snap.current.filter((r) => Date.parse(r.start) <= now && now < Date.parse(r.end));
  if (!current.length) throw new ConflictError(`nobody holds ${resource} now: its console opens for the holder of a running booking`, { resource });
  const mine = p.kind === "user" ? current.find((r) => r.holder.id === p.id) : undefined;
  if (!mine && !isAdmin(p, lab, resource)) throw new ForbiddenError(`only the holder of ${resource} may open its console`, { resource });
  const booking = mine ?? current[0]!;
  if (!mine && !watch) throw new ForbiddenError(`${resource} is held by ${booking.holder.id ?? booking.holder.raw}: admins may watch its console (?watch=1), only the holder types`, { resource });
  if (!signingKeyOf(env)) throw new UnavailableError("the console needs SCHEDULE_SIGNING_KEY (input to the agent is signed with it)");
  const state = await brokerOf(env).consoleState(resource);
  if (!state?.available) throw new ConflictError(`${resource} has no console: no agent announced one`, { resource });
  return {
    resource,
    reservation: apiId(booking),
    entryId: booking.id,
    user: p.id,
    mode: mine && !watch ? "write" : "watch",
    end: Date.parse(booking.end),
    session: crypto.randomUUID().replace(/-/g, ""),
  };
}
