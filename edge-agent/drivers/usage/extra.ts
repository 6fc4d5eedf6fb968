import { z } from "zod";
import { ExecError, type ExecFn } from "../deps.ts";

export const extraCollectorSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  /** A program printing one JSON value on stdout; no shell. */
  argv: z.array(z.string()).min(1),
  timeoutMs: z.number().int().positive().default(5_000),
  maxBytes: z.number().int().positive().default(64 * 1024),
});
export type ExtraCollector = z.infer<typeof extraCollectorSchema>;

export type ExtraResult = { ok: true; value: unknown } | { ok: false; error: string };

/** Runs one extra collector: a timeout, a cap on its output, and JSON or a reported error. */
export async function runExtra(c: ExtraCollector, exec: ExecFn): Promise<ExtraResult> {
  let stdout: string;
  try {
    ({ stdout } = await exec(c.argv[0]!, c.argv.slice(1), { timeout: c.timeoutMs, maxBuffer: c.maxBytes }));
  } catch (e) {
    if (e instanceof ExecError && e.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER") return { ok: false, error: `printed more than ${c.maxBytes} bytes` };
    if (e instanceof ExecError && String(e.code).startsWith("timeout")) return { ok: false, error: `no answer within ${c.timeoutMs} ms` };
    return { ok: false, error: (e as Error).message.slice(0, 300) };
  }
  try {
    return { ok: true, value: JSON.parse(stdout) as unknown };
  } catch {
    // JSON.parse's message repeats the raw text; a quoted excerpt is enough and stays one line.
    return { ok: false, error: `not JSON: ${JSON.stringify(stdout.slice(0, 80))}` };
  }
}
