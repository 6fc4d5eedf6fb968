import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../test/services/process.ts";

/**
 * The Worker under `wrangler dev` (workerd) for a bench, in its own process
 * group: `group` names it for CPU sampling (worker.ts cpuDuring), and
 * stop() ends wrangler and its workerd together.
 */
export interface WranglerDev {
  base: string;
  /**
   * workerd's own address for the Worker, past wrangler's dev proxy (a second
   * Worker that forwards every request and exists only under `wrangler dev`),
   * or null when it could not be found. Production has no such hop.
   */
  direct: string | null;
  /**
   * wrangler dev's DevTools inspector (its own proxy in front of workerd's
   * inspector for this Worker), on a port chosen here: the default 9229 may
   * belong to a colleague's wrangler dev on the same machine.
   */
  inspector: string;
  /** wrangler's pid = its process group. */
  group: number;
  stop(): Promise<void>;
}

/**
 * `project`: the folder with the wrangler.toml to run (default: this
 * project's). Another Worker must answer GET /openapi.json with a body
 * containing "openapi" too: that is how its readiness and its own address
 * are found.
 */
export async function startWranglerDev(vars: Record<string, string>, persistDir: string, logLevel: "error" | "log" = "error", project = process.cwd()): Promise<WranglerDev> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = ["dev", "--port", String(port), "--inspector-port", String(inspectorPort), "--ip", "127.0.0.1", "--persist-to", persistDir, "--log-level", logLevel];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const wrangler = join(process.cwd(), "node_modules", "wrangler", "bin", "wrangler.js");
  const dev: ChildProcess = spawn(process.execPath, [wrangler, ...args], { cwd: project, stdio: ["ignore", "pipe", "pipe"], detached: true, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" } });
  let out = "";
  dev.stdout!.on("data", (d) => (out += d));
  dev.stderr!.on("data", (d) => (out += d));
  const stop = async () => {
    if (dev.exitCode !== null) return;
    const exited = new Promise((r) => dev.once("exit", r));
    process.kill(-dev.pid!, "SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (dev.exitCode === null) process.kill(-dev.pid!, "SIGKILL");
  };
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/openapi.json`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (i > 120 || dev.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev did not start: ${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { base, direct: await directAddress(dev.pid!, port), inspector: `http://127.0.0.1:${inspectorPort}`, group: dev.pid!, stop };
}

/**
 * The loopback port in wrangler's process group, other than the proxy's, that
 * answers the Worker's own /openapi.json: wrangler does not print it.
 */
async function directAddress(group: number, proxyPort: number): Promise<string | null> {
  const { stdout } = await promisify(execFile)("ss", ["-ltnpH"]).catch(() => ({ stdout: "" }));
  const candidates: number[] = [];
  for (const line of stdout.split("\n")) {
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)?.[1]);
    const pids = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    if (!port || port === proxyPort) continue;
    for (const pid of pids) {
      const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === group) { candidates.push(port); break; }
    }
  }
  for (const port of candidates) {
    const r = await fetch(`http://127.0.0.1:${port}/openapi.json`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
    const body = r?.ok ? await r.text() : "";
    if (body.includes('"openapi"')) return `http://127.0.0.1:${port}`;
  }
  return null;
}
