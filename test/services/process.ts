import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect } from "node:net";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A free TCP port on 127.0.0.1 (asks the kernel, then releases it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 15_000, host = "127.0.0.1"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, host);
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until `pred` holds (polling every intervalMs), failing with `what` after the timeout. */
export async function until(what: string, pred: () => Promise<boolean> | boolean, timeoutMs = 20_000, intervalMs = 100): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await pred()) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** What tempDir made in this test file; test/temp-dirs.setup.ts removes them after the file's last test. */
const made = new Set<string>();

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `labhog-${prefix}-`));
  made.add(dir);
  return dir;
}

/**
 * Removes what tempDir made, except a folder that something is still mounted
 * in (in this mount namespace): removing it would delete through the mount,
 * into whatever was mounted there. Such a folder, and one that cannot be
 * removed, is kept and named with the reason.
 */
export async function removeTempDirs(): Promise<string[]> {
  const mountPoints = (await readFile("/proc/self/mountinfo", "utf8").catch(() => "")).split("\n").map((l) => unescapeMountPath(l.split(" ")[4] ?? ""));
  const kept: string[] = [];
  for (const dir of made) {
    made.delete(dir);
    const real = await realpath(dir).catch(() => dir);
    if (mountPoints.some((m) => m === real || m.startsWith(real + "/"))) {
      kept.push(`${dir} (something is mounted in it)`);
      continue;
    }
    await rm(real, { recursive: true, force: true, maxRetries: 3 }).catch((e: Error) => kept.push(`${dir} (${e.message})`));
  }
  return kept;
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040 …). */
const unescapeMountPath = (p: string): string => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** A service process started by a test; `stop()` kills it and removes its directory. */
export interface Service {
  readonly port: number;
  readonly dir: string;
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/**
 * setpriv (util-linux) sets the parent-death signal, so a service dies with the
 * test process even when that is killed outright (a timed-out CI step, kill -9)
 * instead of lingering on its port.
 */
const SETPRIV = "/usr/bin/setpriv";

export function startProcess(cmd: string, args: string[], opts: { dir: string; port: number; env?: NodeJS.ProcessEnv }): Service {
  const [file, argv] = existsSync(SETPRIV) ? [SETPRIV, ["--pdeathsig", "SIGTERM", "--", cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, { cwd: opts.dir, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const keep = (b: Buffer) => { out = (out + b.toString()).slice(-20_000); };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return {
    port: opts.port,
    dir: opts.dir,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      await rm(opts.dir, { recursive: true, force: true });
    },
  };
}

export async function startAndWait(cmd: string, args: string[], opts: { dir: string; port: number; env?: NodeJS.ProcessEnv }): Promise<Service> {
  const svc = startProcess(cmd, args, opts);
  try {
    await Promise.race([
      waitForPort(opts.port),
      new Promise((_, reject) => svc.child.once("exit", (code) => reject(new Error(`${cmd} exited with ${code}: ${svc.output()}`)))),
    ]);
  } catch (e) {
    await svc.stop();
    throw e;
  }
  return svc;
}
