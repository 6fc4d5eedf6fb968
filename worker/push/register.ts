import type { Context, Hono } from "hono";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { calendarConfigOf, isResource } from "../../calendar/lab.ts";
import { problem } from "../api/problem.ts";
import { effectiveEnv, type Env } from "../env.ts";
import { labOf } from "../lab.ts";
import { ledgerOf, unwrap } from "../ledger/client.ts";
import { log } from "../log.ts";
import { calendarKeyOf } from "../ledger/calendar-port.ts";
import { calendarsOf, eventKind, expectedCalendars, resourcesFor } from "./nextcloud.ts";
import { sameSecret, verifyChannelToken } from "./secrets.ts";
import { GOOGLE_PUSH_PATH } from "./google-channel.ts";

/**
 * Push endpoints: a calendar server tells us a calendar changed, and that
 * resource's ledger syncs at once (periodic sync stays the safety net).
 * - POST /push/nextcloud — Nextcloud webhook_listeners, registered with
 *   authMethod "header" sending `Authorization: Bearer <NEXTCLOUD_WEBHOOK_SECRET>`.
 * - POST /push/google — Google Calendar watch notifications; the channel
 *   token is HMAC-bound (GOOGLE_PUSH_SECRET) to the resource and channel id.
 * A disabled endpoint is 404; a caller without the secret is 401; neither
 * learns anything nor causes a sync.
 *
 * Both answer as soon as the call is verified and sync in waitUntil: Google
 * and Nextcloud only need to know the notification arrived, and a slow
 * calendar must not hold their request open (Nextcloud runs webhook calls in
 * its background-job worker, which waits for each answer; Google times out
 * and backs off). A push is a hint, not data: the ledger's own sync fetches
 * what changed, and periodic sync stays the safety net, since neither
 * service retries a lost notification.
 */
async function syncAll(env: Env, resources: string[]): Promise<Record<string, boolean | string>> {
  const out: Record<string, boolean | string> = {};
  await Promise.all(
    resources.map(async (r) => {
      try {
        out[r] = await unwrap<boolean>(ledgerOf(env, r).syncNow(r));
      } catch (e) {
        log.warn("push sync failed", { resource: r, error: e });
        out[r] = "failed";
      }
    }),
  );
  return out;
}

/** Runs the syncs after the answer (waitUntil); where there is no execution context (plain app.fetch in tests), before it. */
async function syncLater(c: Context, env: Env, resources: string[]): Promise<void> {
  const work = syncAll(env, resources).then((r) => log.info("push sync done", { synced: r }));
  let ctx: { waitUntil(p: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    ctx = undefined;
  }
  if (ctx) ctx.waitUntil(work);
  else await work;
}

function secretOf(env: Env, name: string): string | undefined {
  const v = env[name];
  return typeof v === "string" && v.length >= 16 ? v : undefined;
}

const isGoogle = (lab: LabConfig, r: string) => isResource(lab, r) && calendarConfigOf(lab, calendarKeyOf(lab, r))?.backend === "google";

export function registerPush(app: Hono<any>): void {
  app.post("/push/nextcloud", async (c: Context) => {
    const env = effectiveEnv(c.env as Env);
    const secret = secretOf(env, "NEXTCLOUD_WEBHOOK_SECRET");
    if (!secret) return problem(404, "not-found", "nothing at /push/nextcloud");
    const m = /^Bearer[ ]+(\S{1,512})$/i.exec((c.req.header("authorization") ?? "").trim());
    if (!m || !sameSecret(m[1]!, secret)) return problem(401, "unauthorized", "push caller not recognised", {}, { "www-authenticate": 'Bearer realm="labhog push"' });
    let payload: unknown;
    try {
      payload = JSON.parse((await c.req.text()).slice(0, 256 * 1024));
    } catch {
      return problem(400, "invalid", "malformed JSON body");
    }
    const kind = eventKind(payload);
    if (!kind) return c.json({ ignored: "not a calendar object event" }, 202);
    const lab = labOf(env);
    const named = c.req.query("resource");
    const resources = named ? (isResource(lab, named) ? [named] : []) : resourcesFor(lab, payload);
    if (!resources.length) {
      // Usually a webhook without an eventFilter (every user's calendars), or a calendar renamed or re-shared.
      log.warn("nextcloud push names no calendar of a resource", {
        event: kind,
        got: calendarsOf(payload).map(({ uri, principaluri, displayName }) => ({ uri, principaluri, displayName })),
        expected: named ? [{ resource: named }] : expectedCalendars(lab),
      });
      return c.json({ ignored: "no resource uses that calendar" }, 202);
    }
    log.info("nextcloud push", { event: kind, resources });
    await syncLater(c, env, resources);
    return c.json({ event: kind, syncing: resources }, 202);
  });

  app.post(GOOGLE_PUSH_PATH, async (c: Context) => {
    const env = effectiveEnv(c.env as Env);
    const secret = secretOf(env, "GOOGLE_PUSH_SECRET");
    if (!secret) return problem(404, "not-found", `nothing at ${GOOGLE_PUSH_PATH}`);
    const channel = c.req.header("x-goog-channel-id") ?? "";
    const token = c.req.header("x-goog-channel-token") ?? "";
    const state = c.req.header("x-goog-resource-state") ?? "";
    const resource = channel && token ? await verifyChannelToken(secret, token, channel) : undefined;
    const lab = labOf(env);
    if (!resource || !isGoogle(lab, resource)) return problem(401, "unauthorized", "push caller not recognised");
    // "sync" is the handshake sent when the channel opens: nothing changed yet.
    if (state === "sync") return c.body(null, 200);
    log.info("google push", { resource, state, channel });
    await syncLater(c, env, [resource]);
    return c.body(null, 200);
  });
}
