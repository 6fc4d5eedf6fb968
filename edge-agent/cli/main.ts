import { LabhogError } from "../../calendar/errors.ts";
import { commandHelp, SPECS, type CommandName } from "./spec.ts";

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
 * Registration point: describe a command's options in cli/spec.ts (which
 * drives parsing, --help and completion) and add its runner to `runners`
 * with a lazy import, so a command's dependencies load only when it runs
 * (`labhog status` must start fast for a locked-out user's ssh login).
 *
 * Why no parser library (commander, citty): node:util parseArgs already
 * parses strictly; what was missing was one table for help and completion,
 * and a library would add start-up time to every ssh login of a locked-out
 * user, who runs `labhog status`.
 */
export type Command = { summary: string; run(argv: string[]): Promise<number> };

export class UsageError extends LabhogError {
  constructor(message: string) { super("usage", 2, message); }
}

const lazy = <M>(load: () => Promise<M>, pick: (m: M) => (argv: string[]) => Promise<number>) => async (argv: string[]) => pick(await load())(argv);

const runners: Record<CommandName, (argv: string[]) => Promise<number>> = {
  book: lazy(() => import("./commands/book.ts"), (m) => m.runBook),
  extend: lazy(() => import("./commands/extend.ts"), (m) => m.runExtend),
  release: lazy(() => import("./commands/release.ts"), (m) => m.runRelease),
  ls: lazy(() => import("./commands/ls.ts"), (m) => m.runLs),
  stats: lazy(() => import("./commands/stats.ts"), (m) => m.runStats),
  status: async (a) => (a.includes("--lab") ? (await import("./commands/lab-status.ts")).runLabStatus(a) : (await import("./status.ts")).runStatus(a)),
  wait: lazy(() => import("./commands/wait.ts"), (m) => m.runWait),
  lease: lazy(() => import("./commands/lease.ts"), (m) => m.runLease),
  attach: lazy(() => import("./attach.ts"), (m) => m.runAttach),
  console: lazy(() => import("./console.ts"), (m) => m.runConsole),
  keygen: lazy(() => import("./keygen.ts"), (m) => m.runKeygen),
  agent: lazy(() => import("./agent.ts"), (m) => m.runAgent),
  notice: lazy(() => import("./commands/notice.ts"), (m) => m.runNotice),
  completion: lazy(() => import("./completion.ts"), (m) => m.runCompletion),
};

export const commands: Record<string, Command> = Object.fromEntries(
  (Object.keys(SPECS) as CommandName[]).map((name) => [name, { summary: SPECS[name].summary, run: runners[name] }]),
);

function help(): string {
  const w = Math.max(...Object.keys(commands).map((k) => k.length));
  return [
    "usage: labhog <command> [options]",
    "",
    ...Object.entries(commands).map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`),
    "",
    "labhog <command> --help (or labhog help <command>) shows a command's options.",
  ].join("\n");
}

/** `--help` or `-h` anywhere before a `--` (after it, the arguments belong to lease's command). */
function asksForHelp(argv: string[]): boolean {
  const dash = argv.indexOf("--");
  return (dash < 0 ? argv : argv.slice(0, dash)).some((a) => a === "--help" || a === "-h");
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
  if (name === undefined || name === "--help" || name === "-h") {
    process.stdout.write(help() + "\n");
    return name === undefined ? 2 : 0;
  }
  if (name === "help") {
    const topic = rest[0];
    if (topic !== undefined && Object.hasOwn(SPECS, topic)) process.stdout.write(commandHelp(topic, SPECS[topic as CommandName]) + "\n");
    else process.stdout.write(help() + "\n");
    return topic === undefined || Object.hasOwn(SPECS, topic) ? 0 : 2;
  }
  // Hidden: names for the completion scripts (never an error on the prompt).
  if (name === "__complete") return (await import("./completion.ts")).runCompleteNames(rest);
  const cmd = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (cmd && asksForHelp(rest)) {
    process.stdout.write(commandHelp(name, SPECS[name as CommandName]) + "\n");
    return 0;
  }
  try {
    if (!cmd) throw new UsageError(`unknown command "${name}" (try labhog help)`);
    return await cmd.run(rest);
  } catch (e) {
    // One readable line; details go to the structured log when LABHOG_LOG_LEVEL=debug.
    const msg = (e as Error).message ?? String(e);
    const usage = e instanceof UsageError && Object.hasOwn(SPECS, name) ? ` (labhog ${name} --help)` : "";
    process.stderr.write(`labhog ${name}: ${msg.split("\n").join("; ")}${usage}\n`);
    if (process.env.LABHOG_LOG_LEVEL === "debug") process.stderr.write(`${(e as Error).stack ?? ""}\n`);
    return exitCodeOf(e);
  }
}
