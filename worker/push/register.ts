import type { Context, Hono } from "hono";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { problem } from "../api/problem.ts";
import { effectiveEnv, type Env } from "../env.ts";
import { labOf } from "../lab.ts";
import { ledgerOf, unwrap } from "../ledger/client.ts";
import { log } from "../log.ts";
import { calendarKeyOf } from "../ledger/calendar-port.ts";
import { eventKind, resourcesFor } from "./nextcloud.ts";
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

function secretOf(env: Env, name: string): string | undefined {
  const v = env[name];
  return typeof v === "string" && v.length >= 16 ? v : undefined;
}

const isGoogle = (lab: LabConfig, r: string) => r in lab.resources && lab.calendars[calendarKeyOf(lab, r)]?.backend === "google";

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
    const resources = named ? (named in lab.resources ? [named] : []) : resourcesFor(lab, payload);
    if (!resources.length) return c.json({ ignored: "no resource uses that calendar" }, 202);
    log.info("nextcloud push", { event: kind, resources });
    return c.json({ event: kind, synced: await syncAll(env, resources) }, 200);
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
    await syncAll(env, [resource]);
    return c.body(null, 200);
  });
}
