import { z } from "zod";
import type { Actuator, ActuatorDeps } from "./actuator.ts";

const lineSchema = z.union([z.number().int().nonnegative(), z.string().regex(/^[A-Za-z0-9_.]+$/, "a GPIO line offset or name")]);

export const gpioConfigSchema = z.strictObject({
  type: z.literal("gpio"),
  chip: z.string().regex(/^[A-Za-z0-9_./-]+$/).refine((s) => !s.startsWith("-"), "chip must not start with '-'"),
  /** Default line when a step does not name one. */
  line: lineSchema.optional(),
  activeLow: z.boolean().default(false),
  /** libgpiod v2 tools (Debian 13+) take `-c CHIP -t0 LINE=V`; v1 (Debian 12) take `CHIP LINE=V`. */
  tools: z.enum(["v1", "v2"]).default("v2"),
  gpioset: z.string().min(1).default("gpioset"),
  gpioget: z.string().min(1).default("gpioget"),
  timeoutMs: z.number().int().positive().default(10_000),
});

export const gpioParamsSchema = z.strictObject({
  line: lineSchema.optional(),
  value: z.union([z.literal(0), z.literal(1), z.boolean()]).transform((v) => (v === true || v === 1 ? 1 : 0)),
});

export const gpioReadParamsSchema = z.strictObject({ line: lineSchema.optional() });

type Cfg = z.infer<typeof gpioConfigSchema>;
type Params = z.infer<typeof gpioParamsSchema>;

/**
 * A GPIO line through libgpiod's tools. With v2, `-t0` makes gpioset set the value
 * and exit instead of holding the line until killed (v1 exits by default).
 */
export function createGpioActuator(cfg: Cfg, deps: ActuatorDeps): Actuator<Params> {
  const lineOf = (p: { line?: string | number | undefined }) => {
    const l = p.line ?? cfg.line;
    if (l === undefined) throw new Error(`gpio step on ${cfg.chip} names no line and the actuator has no default`);
    return String(l);
  };
  const low = cfg.activeLow ? ["-l"] : [];
  const setArgs = (p: Params) =>
    cfg.tools === "v2" ? ["-c", cfg.chip, ...low, "-t0", `${lineOf(p)}=${p.value}`] : [...low, cfg.chip, `${lineOf(p)}=${p.value}`];
  return {
    type: "gpio",
    describe: (p) => `${cfg.gpioset} ${setArgs(p).join(" ")}`,
    async act(p) {
      await deps.exec(cfg.gpioset, setArgs(p), { timeout: cfg.timeoutMs });
    },
    async read(raw) {
      const p = gpioReadParamsSchema.parse(raw);
      const args = cfg.tools === "v2" ? ["-c", cfg.chip, ...low, "--numeric", lineOf(p)] : [...low, cfg.chip, lineOf(p)];
      const { stdout } = await deps.exec(cfg.gpioget, args, { timeout: cfg.timeoutMs });
      return stdout.trim() === "1" ? "on" : stdout.trim() === "0" ? "off" : stdout.trim();
    },
  };
}
