import { z } from "zod";
import { UnavailableError } from "../../../../calendar/errors.ts";
import type { Actuator } from "./actuator.ts";

export const serialConfigSchema = z.strictObject({
  type: z.literal("serial"),
  path: z.string().min(1),
  baudRate: z.number().int().positive().default(115_200),
});

const regexString = z.string().refine((s) => {
  try { new RegExp(s); return true; } catch { return false; }
}, "not a valid regular expression");

export const serialParamsSchema = z.strictObject({
  /** Sent as is; YAML double quotes give "\r\n". */
  write: z.string().optional(),
  /** A regular expression the reply must match. */
  expect: regexString.optional(),
  timeoutMs: z.number().int().positive().default(10_000),
}).refine((p) => p.write !== undefined || p.expect !== undefined, "a serial step needs write, expect or both");

type Params = z.infer<typeof serialParamsSchema>;
type Cfg = z.infer<typeof serialConfigSchema>;

const show = (s: string) => JSON.stringify(s);

/**
 * A console (a U-Boot prompt, a board controller's serial protocol): write a string,
 * then wait for a reply matching `expect`. The port is opened per step so nothing else
 * (a user's console session after the reservation started) is kept out for long.
 */
export function createSerialActuator(cfg: Cfg): Actuator<Params> {
  return {
    type: "serial",
    describe: (p) =>
      [`serial ${cfg.path}@${cfg.baudRate}:`, p.write !== undefined ? `write ${show(p.write)}` : "", p.expect !== undefined ? `expect /${p.expect}/ within ${p.timeoutMs} ms` : ""]
        .filter(Boolean)
        .join(" "),
    async act(p, ctx) {
      // Loaded here, not at the top: serialport is a native module, and a host that
      // configures no serial device should not need it installed.
      const { SerialPort } = await import("serialport");
      const port = new SerialPort({ path: cfg.path, baudRate: cfg.baudRate, autoOpen: false });
      await new Promise<void>((resolve, reject) =>
        port.open((err) => (err ? reject(new UnavailableError(`cannot open ${cfg.path}: ${err.message}`, undefined, { cause: err })) : resolve())),
      );
      try {
        let seen = "";
        const pattern = p.expect !== undefined ? new RegExp(p.expect) : undefined;
        // Listen before writing: a fast device may answer before write() returns.
        const reply = pattern
          ? new Promise<string>((resolve, reject) => {
              const timer = setTimeout(() => {
                port.off("data", onData);
                reject(new UnavailableError(`no reply matching /${p.expect}/ on ${cfg.path} within ${p.timeoutMs} ms (got ${show(seen.slice(-200))})`));
              }, p.timeoutMs);
              const onData = (b: Buffer) => {
                seen = (seen + b.toString("latin1")).slice(-65_536);
                const m = pattern.exec(seen);
                if (m) {
                  clearTimeout(timer);
                  port.off("data", onData);
                  resolve(m[0]);
                }
              };
              port.on("data", onData);
              ctx.signal?.addEventListener("abort", () => { clearTimeout(timer); port.off("data", onData); reject(ctx.signal?.reason); }, { once: true });
            })
          : undefined;
        // Keeps a timeout that fires while write() is failing from becoming an unhandled rejection.
        reply?.catch(() => undefined);
        if (p.write !== undefined) {
          await new Promise<void>((resolve, reject) => port.write(p.write!, "latin1", (err) => (err ? reject(err) : resolve())));
          await new Promise<void>((resolve, reject) => port.drain((err) => (err ? reject(err) : resolve())));
        }
        if (reply) ctx.log.debug("serial reply matched", { path: cfg.path, match: await reply });
      } finally {
        await new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
      }
    },
  };
}
