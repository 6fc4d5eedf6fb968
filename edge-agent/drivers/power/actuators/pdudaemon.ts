import { z } from "zod";
import { UnavailableError } from "../../../../calendar/errors.ts";
import type { Actuator } from "./actuator.ts";

export const pdudaemonConfigSchema = z.strictObject({
  type: z.literal("pdudaemon"),
  /** pdudaemon's HTTP listener, e.g. http://pdu-host:16421 */
  url: z.url(),
  /** The PDU's name in pdudaemon's config. */
  hostname: z.string().min(1),
  timeoutMs: z.number().int().positive().default(30_000),
});

export const pdudaemonParamsSchema = z.strictObject({
  port: z.union([z.number().int().nonnegative(), z.string().regex(/^[A-Za-z0-9_.-]+$/)]),
  request: z.enum(["on", "off", "reboot"]),
  /** Seconds pdudaemon waits between off and on for `reboot`. */
  delay: z.number().int().nonnegative().optional(),
});

type Params = z.infer<typeof pdudaemonParamsSchema>;

function requestUrl(cfg: z.infer<typeof pdudaemonConfigSchema>, p: Params): URL {
  const u = new URL(`power/control/${p.request}`, cfg.url.endsWith("/") ? cfg.url : cfg.url + "/");
  u.searchParams.set("hostname", cfg.hostname);
  u.searchParams.set("port", String(p.port));
  if (p.delay !== undefined) u.searchParams.set("delay", String(p.delay));
  return u;
}

/**
 * pdudaemon over HTTP. Its HTTP listener answers only after the job ran, so a step
 * is done when the response arrives. It cannot read an outlet's state back.
 */
export function createPdudaemonActuator(cfg: z.infer<typeof pdudaemonConfigSchema>): Actuator<Params> {
  return {
    type: "pdudaemon",
    describe: (p) => `GET ${requestUrl(cfg, p).href}`,
    async act(p, ctx) {
      const url = requestUrl(cfg, p);
      const timeout = AbortSignal.timeout(cfg.timeoutMs);
      const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
      let res: Response;
      try {
        res = await fetch(url, { signal });
      } catch (e) {
        throw new UnavailableError(`pdudaemon at ${cfg.url} unreachable: ${(e as Error).message}`, undefined, { cause: e });
      }
      const body = (await res.text()).trim();
      if (!res.ok) throw new UnavailableError(`pdudaemon refused ${p.request} of ${cfg.hostname} port ${p.port}: HTTP ${res.status} ${body}`);
      ctx.log.debug("pdudaemon answered", { url: url.href, body });
    },
  };
}
