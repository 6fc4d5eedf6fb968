import { z } from "zod";
import { substitute } from "../substitute.ts";
import type { Actuator, ActuatorDeps } from "./actuator.ts";
import { argvSchema } from "./argv.ts";

export const commandConfigSchema = z.strictObject({
  type: z.literal("command"),
  timeoutMs: z.number().int().positive().default(60_000),
  cwd: z.string().optional(),
});

export const commandParamsSchema = z.strictObject({ argv: argvSchema });

/** `read`: run argv, map its trimmed stdout (e.g. "1" → "on"); unmapped output is reported as is. */
export const commandReadParamsSchema = z.strictObject({
  argv: argvSchema,
  map: z.record(z.string(), z.string()).optional(),
});

type Cfg = z.infer<typeof commandConfigSchema>;
type Params = z.infer<typeof commandParamsSchema>;

/** Any program (relay tools, usbreset, uhubctl…), run with execFile and an argument array. */
export function createCommandActuator(cfg: Cfg, deps: ActuatorDeps): Actuator<Params> {
  const opts = { timeout: cfg.timeoutMs, ...(cfg.cwd ? { cwd: cfg.cwd } : {}) };
  return {
    type: "command",
    describe: (p, vars) => {
      try { return `run ${JSON.stringify(substitute(p.argv, vars))}`; } catch { return `run ${JSON.stringify(p.argv)}`; }
    },
    async act(p, ctx) {
      const [file, ...args] = substitute(p.argv, ctx.vars);
      const out = await deps.exec(file!, args, opts);
      ctx.log.debug("command ran", { file, args, stdout: out.stdout.slice(-500) });
    },
    async read(raw, ctx) {
      const p = commandReadParamsSchema.parse(raw);
      const [file, ...args] = substitute(p.argv, ctx.vars);
      const value = (await deps.exec(file!, args, opts)).stdout.trim();
      return p.map?.[value] ?? value;
    },
  };
}
