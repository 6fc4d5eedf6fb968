import { LabhogError } from "../../calendar/errors.ts";

/**
 * `labhog <command> …` dispatcher.
 *
 * Exit codes (all commands):
 *   0  success
 *   1  failure at run time (the one-line error says what)
 *   2  usage error: unknown command or option
 *   3  invalid configuration or input (the error names the file/field, or the API's reason)
 *   4  refused: the slot is taken (409), no right to it (403), or another agent serves the resource
 *   5  not found: no such resource or reservation
 *   6  timed out waiting (labhog wait)
 *   7  the server or calendar is unavailable (retry later)
 *   8  not authenticated: set LABHOG_TOKEN
 *   other: `labhog lease` exits with its command's exit code
 *
 * Registration point: add a command to `commands` with a lazy import, so a
 * command's dependencies load only when it runs (`labhog status` must start
 * fast for a locked-out user's ssh login).
 */
export type Command = { summary: string; run(argv: string[]): Promise<number> };

export class UsageError extends LabhogError {
  constructor(message: string) { super("usage", 2, message); }
}

const lazy = <M>(load: () => Promise<M>, pick: (m: M) => (argv: string[]) => Promise<number>) => async (argv: string[]) => pick(await load())(argv);

export const commands: Record<string, Command> = {
  agent: { summary: "run the edge agent daemon: --config agent.yaml [--check] [--simulate]", run: lazy(() => import("./agent.ts"), (m) => m.runAgent) },
  status: {
    summary: "who holds this host until when (any user); --lab: a table of the whole lab from the server",
    run: async (a) => (a.includes("--lab") ? (await import("./commands/lab-status.ts")).runLabStatus(a) : (await import("./status.ts")).runStatus(a)),
  },
  book: { summary: "book <resource…|--pool P|--tag k=v> [--for 2h|--until 18:00] [--shared] [--purpose …] [--image …] [--mode …] [--wait [secs]]", run: lazy(() => import("./commands/book.ts"), (m) => m.runBook) },
  extend: { summary: "extend <id|resource> (--for 1h | --until 18:00)", run: lazy(() => import("./commands/extend.ts"), (m) => m.runExtend) },
  release: { summary: "release <id|resource>: end it now (or cancel a future one)", run: lazy(() => import("./commands/release.ts"), (m) => m.runRelease) },
  ls: { summary: "ls [resource] [--all] [--pool P]: reservations (mine by default)", run: lazy(() => import("./commands/ls.ts"), (m) => m.runLs) },
  wait: { summary: "wait <resource|--pool P|--tag k=v> [--timeout 1h]: until one is free", run: lazy(() => import("./commands/wait.ts"), (m) => m.runWait) },
  lease: { summary: "lease <what to book> [--ttl 60s] -- <command…>: hold it while the command runs (CI)", run: lazy(() => import("./commands/lease.ts"), (m) => m.runLease) },
  keygen: { summary: "keygen [--kid K] [--out DIR]: the Ed25519 key pair that signs schedules", run: lazy(() => import("./keygen.ts"), (m) => m.runKeygen) },
  attach: { summary: "attach <resource> --host H: attach its USB devices over usbip (holder's machine)", run: lazy(() => import("./attach.ts"), (m) => m.runAttach) },
};

function help(): string {
  const w = Math.max(...Object.keys(commands).map((k) => k.length));
  return ["usage: labhog <command> [options]", "", ...Object.entries(commands).map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`)].join("\n");
}

export function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return 2;
  if (e instanceof LabhogError) {
    switch (e.code) {
      case "invalid":
        return 3;
      case "resource-locked":
      case "forbidden":
      case "conflict":
        return 4;
      case "not-found":
        return 5;
      case "timeout":
        return 6;
      case "unavailable":
        return 7;
      case "unauthorized":
        return 8;
    }
  }
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(help() + "\n");
    return name === undefined ? 2 : 0;
  }
  const cmd = Object.hasOwn(commands, name) ? commands[name] : undefined;
  try {
    if (!cmd) throw new UsageError(`unknown command "${name}" (try labhog help)`);
    return await cmd.run(rest);
  } catch (e) {
    // One readable line; details go to the structured log when LABHOG_LOG_LEVEL=debug.
    const msg = (e as Error).message ?? String(e);
    process.stderr.write(`labhog ${name}: ${msg.split("\n").join("; ")}\n`);
    if (process.env.LABHOG_LOG_LEVEL === "debug") process.stderr.write(`${(e as Error).stack ?? ""}\n`);
    return exitCodeOf(e);
  }
}
