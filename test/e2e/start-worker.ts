import { unstable_startWorker } from "wrangler";
import { join } from "node:path";

/**
 * Runs the labhog Worker in workerd from Node with wrangler's
 * unstable_startWorker (no watch, no inspector, storage in memory), with the
 * given vars as bindings. The caller disposes it.
 */
export interface RunningWorker {
  url: string;
  dispose(): Promise<void>;
}

const root = join(import.meta.dirname, "..", "..");

export async function startLabhogWorker(vars: Record<string, string>, entry = "worker/index.ts", port = 0): Promise<RunningWorker> {
  const worker = await unstable_startWorker({
    config: join(root, "wrangler.toml"),
    entrypoint: join(root, entry),
    compatibilityFlags: ["nodejs_compat"],
    bindings: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { type: "plain_text" as const, value: v }])),
    triggers: [],
    // wrangler 4.86 does not derive this from the flags when they come from the config file here: without it the bundle misses node: builtins.
    build: { nodejsCompatMode: "v2" },
    dev: { server: { hostname: "127.0.0.1", port }, inspector: false, persist: false, watch: false, logLevel: "warn", liveReload: false },
  });
  await worker.ready;
  const url = (await worker.url).toString().replace(/\/$/, "");
  return { url, dispose: () => worker.dispose() };
}
