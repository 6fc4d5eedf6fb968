import { createApp } from "./api/app.ts";
import { effectiveEnv, type Env } from "./env.ts";
import { labOf } from "./lab.ts";
import { ledgerOf } from "./ledger/client.ts";
import { log, setLogLevel } from "./log.ts";
import { registerUsage } from "./usage/register.ts";
import { registerFeeds } from "./feeds/register.ts";
import { registerPush } from "./push/register.ts";
import { registerStatusPage } from "./ui/register.tsx";
import { registerConsole } from "./console/register.ts";

export { Ledger } from "./ledger/ledger.ts";
export { Broker } from "./broker/broker.ts";

/**
 * The labhog Worker: the booking API (worker/api), one ledger Durable Object
 * per resource (worker/ledger), one Broker Durable Object holding the MQTT
 * connection (worker/broker). The status page, feeds and push endpoints
 * mount on `app` too.
 */
export const app = createApp();
// What people see and what flows back: usage reports, feeds, push endpoints, the status page.
registerUsage(app);
registerFeeds(app);
registerPush(app);
registerStatusPage(app);
// The board's serial console for the holder.
registerConsole(app);

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext) {
    setLogLevel(typeof env.LOG_LEVEL === "string" ? env.LOG_LEVEL : undefined);
    return app.fetch(request, env, ctx);
  },

  /** Cron: the safety net that re-arms every ledger's alarm (sync, boundaries, publish retries). */
  async scheduled(_controller: ScheduledController, rawEnv: Env, ctx: ExecutionContext) {
    const env = effectiveEnv(rawEnv);
    const lab = labOf(env);
    ctx.waitUntil(
      Promise.allSettled(Object.keys(lab.resources).map((r) => ledgerOf(env, r).ensureArmed(r))).then((rs) => {
        const failed = rs.filter((r) => r.status === "rejected").length;
        if (failed) log.warn("cron could not arm some ledgers", { failed });
      }),
    );
  },
} satisfies ExportedHandler<Env>;
