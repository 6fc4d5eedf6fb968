import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { freePort } from "../test/services/process.ts";

/**
 * The Worker under `wrangler dev` (workerd) for a bench, in its own process
 * group: `group` names it for CPU sampling (worker.ts cpuDuring), and
 * stop() ends wrangler and its workerd together.
 */
export interface WranglerDev {
  base: string;
  /** wrangler's pid = its process group. */
  group: number;
  stop(): Promise<void>;
}

export async function startWranglerDev(vars: Record<string, string>, persistDir: string, logLevel: "error" | "log" = "error"): Promise<WranglerDev> {
  const port = await freePort();
  const args = ["dev", "--port", String(port), "--ip", "127.0.0.1", "--persist-to", persistDir, "--log-level", logLevel];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const dev: ChildProcess = spawn(process.execPath, [join("node_modules", "wrangler", "bin", "wrangler.js"), ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
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
  return { base, group: dev.pid!, stop };
}
