/**
 * Structured JSON logs with levels, one object per line. Shared by the Worker
 * and the agent; where the lines go is up to the runtime (console in workerd,
 * stderr in Node), so this stays Web-standard.
 */
export type Level = "debug" | "info" | "warn" | "error";
export const levelOrder: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export interface JsonLoggerOptions {
  /** Read on every line, so a level set later (from the Worker's env) applies at once. */
  minLevel: () => Level;
  write: (level: Level, line: string) => void;
  base?: Record<string, unknown>;
}

export function jsonLogger(opts: JsonLoggerOptions): Logger {
  const base = opts.base ?? {};
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (levelOrder[level] < levelOrder[opts.minLevel()]) return;
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level, msg, ...base, ...fields };
    // Errors stringify to {}: keep what a reader needs.
    for (const [k, v] of Object.entries(rec)) if (v instanceof Error) rec[k] = { name: v.name, message: v.message };
    opts.write(level, JSON.stringify(rec));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => jsonLogger({ ...opts, base: { ...base, ...fields } }),
  };
}
