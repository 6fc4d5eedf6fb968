import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startLabhogWorker, type RunningWorker } from "../e2e/start-worker.ts";

/**
 * The real Worker in workerd (memory backend, authentication on, two users)
 * and a way to run the real `labhog` binary against it as a separate process,
 * as a person or a CI job would.
 */
export const TOKENS = { alice: "cli-alice-token-0123456789abcdef", bob: "cli-bob-token-0123456789abcdef" } as const;
export type Who = keyof typeof TOKENS;

const repo = resolve(import.meta.dirname, "..", "..");
export const BIN = join(repo, "edge-agent", "bin", "labhog.mjs");
const sha = (t: string) => createHash("sha256").update(t).digest("hex");

export const CLI_LAB = `site: clitest
timezone: UTC
calendars:
  default: { backend: memory }
pools:
  boards: { name: "Boards" }
resources:
  host1: { name: "Host 1", kind: host, tags: { arch: x86_64 } }
  host2: { name: "Host 2", kind: host, tags: { arch: x86_64 } }
  board1: { name: "Board 1", kind: board, pool: boards, tags: { soc: rk3588 } }
  board2: { name: "Board 2", kind: board, pool: boards, tags: { soc: rk3588 } }
  host3: { name: "Host 3", kind: host, tags: { arch: arm64 } }
  host4: { name: "Host 4", kind: host, tags: { arch: riscv64 } }
  probe: { name: "Probe", kind: usb, tags: { vendor: segger } }
  probe2: { name: "Probe 2", kind: usb, tags: { vendor: wch } }
users:
  alice: { name: Alice, email: alice@example.com, unix: alice, groups: [lab] }
  bob: { name: Bob, email: bob@example.com, unix: bob, groups: [lab] }
groups:
  lab: { book: ["*"] }
policy:
  syncInterval: 5s
`;

export interface CliResult { code: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null }

export interface CliLab {
  worker: RunningWorker;
  /** An empty HOME, so no ~/.config/labhog/cli.yaml of the machine leaks in. */
  home: string;
  labhog(args: string[], o?: { who?: Who | null; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult>;
  stop(): Promise<void>;
}

export function runLabhog(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr, signal });
    });
  });
}

/** Environment for a child `labhog`: only what it needs, nothing from the caller's LABHOG_*. */
export function cliEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, TZ: "UTC", LABHOG_LOG_LEVEL: "warn" };
  return { ...base, ...extra };
}

export async function startCliLab(): Promise<CliLab> {
  const worker = await startLabhogWorker(
    {
      LAB_CONFIG: CLI_LAB,
      API_TOKENS: JSON.stringify({ [sha(TOKENS.alice)]: "user:alice", [sha(TOKENS.bob)]: "user:bob" }),
      LOG_LEVEL: "error",
    },
    "worker/index.ts",
  );
  const home = await mkdtemp(join(tmpdir(), "labhog-cli-"));
  return {
    worker,
    home,
    labhog(args, o = {}) {
      const who = o.who === undefined ? "alice" : o.who;
      const env = cliEnv(home, { LABHOG_URL: worker.url, ...(who ? { LABHOG_TOKEN: TOKENS[who] } : {}), ...o.env });
      return runLabhog(args, env, o.timeoutMs);
    },
    async stop() {
      await worker.dispose().catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** Parses `--json` output; fails the test with the raw text when it is not JSON. */
export function json(r: CliResult): any {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\nstderr: ${r.stderr}`);
  }
}
