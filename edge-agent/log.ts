import { jsonLogger, levelOrder, type Level, type Logger } from "../calendar/log.ts";

/** Structured JSON logs, one object per line on stderr, with levels (LABHOG_LOG_LEVEL). */
export type { Level, Logger };

export interface LoggerOptions {
  level?: Level;
  write?: (line: string) => void;
  base?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const env = process.env.LABHOG_LOG_LEVEL;
  const level: Level = opts.level ?? (env && env in levelOrder ? (env as Level) : "info");
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  return jsonLogger({ minLevel: () => level, write: (_l, line) => write(line), ...(opts.base ? { base: opts.base } : {}) });
}
