import { jsonLogger, levelOrder, type Level, type Logger } from "../calendar/log.ts";

/** Structured JSON logs on the console (workerd), with levels. */
export type { Level, Logger };

let minLevel: Level = "info";
export function setLogLevel(level: string | undefined): void {
  if (level && level in levelOrder) minLevel = level as Level;
}

const toConsole = (level: Level, line: string) => {
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

export function createLogger(base: Record<string, unknown> = {}): Logger {
  return jsonLogger({ minLevel: () => minLevel, write: toConsole, base });
}

export const log = createLogger({ component: "worker" });
