import { execFile } from "node:child_process";
import type { Logger } from "../log.ts";

export interface ExecOptions {
  timeout?: number;
  maxBuffer?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs one program with an argument array: no shell ever sees the arguments,
 * so nothing from a schedule or config can be interpreted as shell syntax.
 */
export type ExecFn = (file: string, args: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

/** What every hardware driver is built with. */
export interface Deps {
  log: Logger;
  /** Dry run for the whole agent: drivers report what they would do and touch nothing. */
  simulate: boolean;
  /** Injected for tests; defaults to {@link execFileArgs}. */
  exec?: ExecFn;
}

/** An execFile failure with what the program said, for logs and events. */
export class ExecError extends Error {
  constructor(
    readonly file: string,
    readonly args: readonly string[],
    readonly code: number | string | null,
    readonly stdout: string,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    const said = (stderr || stdout).trim().split("\n").slice(-3).join(" | ");
    super(`${file} ${args.join(" ")} failed (${code ?? "signal"})${said ? `: ${said}` : ""}`, options);
    this.name = "ExecError";
  }
}

export const execFileArgs: ExecFn = (file, args, opts = {}) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { timeout: opts.timeout ?? 60_000, maxBuffer: opts.maxBuffer ?? 1024 * 1024, env: opts.env ?? process.env, cwd: opts.cwd, encoding: "utf8", shell: false },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { code?: number | string | null; killed?: boolean; signal?: string };
          // Node kills a child that overflows maxBuffer too: that is not a timeout.
          const code = e.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER" ? e.code : e.killed ? `timeout/${e.signal ?? "killed"}` : (e.code ?? null);
          reject(new ExecError(file, args, code, String(stdout ?? ""), String(stderr ?? ""), { cause: err }));
        } else resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });

export function execOf(deps: Deps): ExecFn {
  return deps.exec ?? execFileArgs;
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(signal?.reason); };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
