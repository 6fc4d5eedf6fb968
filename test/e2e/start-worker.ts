import { unstable_DevEnv } from "wrangler";
import { cp, mkdtemp, readdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Runs the labhog Worker in workerd from Node with wrangler's
 * unstable_startWorker (no watch, no inspector, storage in memory), with the
 * given vars as bindings. The caller disposes it.
 */
export interface RunningWorker {
  url: string;
  /**
   * workerd's own socket, past wrangler's proxy Worker. The proxy answers a
   * POST that lost its connection with a 503 "Your worker restarted
   * mid-request" whatever the cause (it compares the request's URL, path
   * and all, with the bare origin, so it always thinks the Worker moved),
   * and retries a GET on the new Worker: load tests use this to see the
   * real error, and to leave out a hop.
   */
  directUrl: string;
  dispose(): Promise<void>;
}

const root = join(import.meta.dirname, "..", "..");

/**
 * A copy of the checkout's sources (node_modules linked, not copied).
 * wrangler's dev bundler watches every source file whatever `dev.watch`
 * says (esbuild runs with watch on), and a rebuild restarts workerd: every
 * Durable Object starts over and the requests in flight are dropped. A
 * minutes-long run in a checkout where files change would not survive it.
 */
async function snapshotOfCheckout(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "labhog-worker-src-"));
  const skip = new Set(["node_modules", ".git", ".wrangler", "test-artifacts"]);
  for (const name of await readdir(root)) {
    if (!skip.has(name)) await cp(join(root, name), join(dir, name), { recursive: true, verbatimSymlinks: true });
  }
  await symlink(join(root, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** `snapshot`: run a copy of the sources, so edits in the checkout during the run do not restart the Worker. */
export async function startLabhogWorker(vars: Record<string, string>, entry = "worker/index.ts", port = 0, opts: { snapshot?: boolean } = {}): Promise<RunningWorker> {
  const src = opts.snapshot ? await snapshotOfCheckout() : root;
  const devEnv = new unstable_DevEnv();
  // `ready` resolves once the proxy listens, before workerd has the Worker: its address comes with reloadComplete.
  let loaded!: (u: { protocol: string; hostname: string; port: string }) => void;
  const direct = new Promise<{ protocol: string; hostname: string; port: string }>((r) => (loaded = r));
  const dispatch = devEnv.dispatch.bind(devEnv);
  devEnv.dispatch = (event) => {
    if (event.type === "reloadComplete") loaded(event.proxyData.userWorkerUrl);
    dispatch(event);
  };
  const worker = await devEnv.startWorker({
    config: join(src, "wrangler.toml"),
    entrypoint: join(src, entry),
    compatibilityFlags: ["nodejs_compat"],
    bindings: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { type: "plain_text" as const, value: v }])),
    triggers: [],
    // wrangler 4.86 does not derive this from the flags when they come from the config file here: without it the bundle misses node: builtins.
    build: { nodejsCompatMode: "v2" },
    dev: { server: { hostname: "127.0.0.1", port }, inspector: false, persist: false, watch: false, logLevel: "warn", liveReload: false },
  });
  await worker.ready;
  const url = (await worker.url).toString().replace(/\/$/, "");
  const d = await direct;
  const directUrl = `${d.protocol}//${d.hostname}:${d.port}`;
  return {
    url,
    directUrl,
    dispose: async () => {
      await worker.dispose();
      if (src !== root) await rm(src, { recursive: true, force: true });
    },
  };
}
