import { spawn, type ChildProcess } from "node:child_process";
import { readlinkSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { requireUnshare } from "../../netns/namespace.ts";

/**
 * The test's handle on ns-host.ts: a private mount + pid namespace that shares
 * the network (no --net), so sshd and the agent get their own mounts while
 * reaching the Worker and brokers on 127.0.0.1. The machine's own mounts are
 * never touched: ns-host.ts refuses to mount anything outside its namespace.
 */
const unshareArgs = ["--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc"];

/** Fails (never skips) when this machine cannot make the namespace. */
export const requireUnshareMount = (): void => requireUnshare(unshareArgs);

export interface NsHost {
  call<T = any>(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  stderr(): string;
  close(): Promise<void>;
}

export function startNsHost(): NsHost {
  const child: ChildProcess = spawn("unshare", [...unshareArgs, "--", process.execPath, "--import", "tsx", join(import.meta.dirname, "ns-host.ts")], {
    env: { ...process.env, LABHOG_HOST_MNTNS: readlinkSync("/proc/self/ns/mnt") },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-50_000)));
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (!line.startsWith("{")) return;
    const m = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: string };
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(m.error));
  });
  child.on("exit", (code) => {
    for (const p of pending.values()) p.reject(new Error(`namespace host exited (${code}): ${err.slice(-3000)}`));
    pending.clear();
  });
  let next = 1;
  return {
    call(cmd, args = {}, timeoutMs = 60_000) {
      const id = next++;
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => { pending.delete(id); reject(new Error(`namespace host: ${cmd} timed out`)); }, timeoutMs);
        pending.set(id, { resolve: (v) => { clearTimeout(t); resolve(v); }, reject: (e) => { clearTimeout(t); reject(e); } });
        child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + "\n");
      });
    },
    stderr: () => err,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.stdin!.end();
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
