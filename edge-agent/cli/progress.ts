import { levelOrder, type Level } from "../../calendar/log.ts";
import { createLogger } from "../log.ts";

/**
 * What a long-running command (lease, wait, book --wait, attach) says while it
 * works. On a terminal: one readable line per step, `labhog lease: holding
 * rock5b-1 until 14:00`. With --json, or when stderr is not a terminal (a CI
 * log, a pipe): the same steps as JSON log lines, so machines get fields and
 * people get sentences. LABHOG_LOG_LEVEL filters both.
 */
export interface Progress {
  info(event: string, fields: Record<string, unknown>, human: string): void;
  warn(event: string, fields: Record<string, unknown>, human: string): void;
  error(event: string, fields: Record<string, unknown>, human: string): void;
  readonly json: boolean;
}

export interface ProgressOptions {
  json?: boolean | undefined;
  stream?: { isTTY?: boolean; write(s: string): unknown };
  env?: NodeJS.ProcessEnv;
}

export function progressFor(command: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const env = opts.env ?? process.env;
  const json = Boolean(opts.json) || !stream.isTTY;
  const wanted = env.LABHOG_LOG_LEVEL && Object.hasOwn(levelOrder, env.LABHOG_LOG_LEVEL) ? (env.LABHOG_LOG_LEVEL as Level) : "info";
  if (json) {
    const log = createLogger({ level: wanted, base: { cmd: command }, write: (line) => stream.write(line + "\n") });
    return {
      json,
      info: (e, f) => log.info(e, f),
      warn: (e, f) => log.warn(e, f),
      error: (e, f) => log.error(e, f),
    };
  }
  const say = (level: Level) => (_e: string, _f: Record<string, unknown>, human: string) => {
    if (levelOrder[level] >= levelOrder[wanted]) stream.write(`labhog ${command}: ${level === "info" ? "" : `${level}: `}${human}\n`);
  };
  return { json, info: say("info"), warn: say("warn"), error: say("error") };
}
