import { spawn } from "node:child_process";
import { z } from "zod";
import { LabhogError } from "../../../../calendar/errors.ts";
import { DEFAULT_PROGRESS, ProgressParser } from "../progress.ts";
import { substitute } from "../substitute.ts";
import type { Actuator } from "./actuator.ts";
import { argvSchema } from "./argv.ts";

const regexString = z.string().refine((s) => {
  try { new RegExp(s); return true; } catch { return false; }
}, "not a valid regular expression");

export const flasherConfigSchema = z.strictObject({
  type: z.literal("flasher"),
  timeoutMs: z.number().int().positive().default(30 * 60_000),
  /** First capture group is the percentage; default finds "42%" / "42.5 %". */
  progress: regexString.optional(),
});

export const flasherParamsSchema = z.strictObject({
  /** e.g. ["dfu-util", "-a", "0", "-D", "{image}"], ["bmaptool", "copy", "{image}", "/dev/sdX"] */
  argv: argvSchema,
});

type Cfg = z.infer<typeof flasherConfigSchema>;
type Params = z.infer<typeof flasherParamsSchema>;

export class FlashError extends LabhogError {
  constructor(message: string, detail?: Record<string, unknown>) { super("flash-failed", 500, message, detail); }
}

/**
 * Runs a flasher on the reservation's image and turns its output into progress.
 * Spawned (not execFile) so output streams while it runs; still no shell.
 */
export function createFlasherActuator(cfg: Cfg): Actuator<Params> {
  const pattern = cfg.progress ? new RegExp(cfg.progress) : DEFAULT_PROGRESS;
  return {
    type: "flasher",
    describe: (p, vars) => {
      try { return `flash ${JSON.stringify(substitute(p.argv, vars))}`; } catch { return `flash ${JSON.stringify(p.argv)}`; }
    },
    act(p, ctx) {
      const [file, ...args] = substitute(p.argv, ctx.vars);
      return new Promise<void>((resolve, reject) => {
        // Its own process group, so stopping it also stops whatever it started (a script's children).
        const child = spawn(file!, args, { shell: false, stdio: ["ignore", "pipe", "pipe"], detached: true });
        const kill = (sig: NodeJS.Signals) => {
          try {
            if (child.pid) process.kill(-child.pid, sig);
          } catch {
            child.kill(sig);
          }
        };
        const parser = new ProgressParser((f, line) => ctx.progress(f, line), pattern);
        let tail = "";
        const onData = (b: Buffer) => {
          const s = b.toString("utf8");
          tail = (tail + s).slice(-2000);
          parser.push(s);
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        const timer = setTimeout(() => kill("SIGKILL"), cfg.timeoutMs);
        const onAbort = () => kill("SIGTERM");
        ctx.signal?.addEventListener("abort", onAbort, { once: true });
        child.once("error", (e) => { clearTimeout(timer); reject(new FlashError(`cannot run ${file}: ${e.message}`)); });
        child.once("close", (code, signal) => {
          clearTimeout(timer);
          ctx.signal?.removeEventListener("abort", onAbort);
          parser.end();
          if (code === 0) resolve();
          else {
            const said = tail.trim().split(/[\r\n]+/).slice(-2).join(" | ");
            reject(new FlashError(`${file} exited with ${code ?? signal}${said ? `: ${said}` : ""}`, { file, code, signal }));
          }
        });
      });
    },
  };
}
