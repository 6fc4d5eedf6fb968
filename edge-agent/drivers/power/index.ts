import { z } from "zod";
import type { ScheduleEntry } from "../../../calendar/schedule/schedule.ts";
import { LabhogError, ValidationError } from "../../../calendar/errors.ts";
import { hasOwnKey } from "../../../calendar/config/own.ts";
import type { Driver, DriverContext, UsageSource } from "../driver.ts";
import { execOf, sleep, type Deps } from "../deps.ts";
import type { Actuator, StepContext } from "./actuators/actuator.ts";
import { createActuator } from "./actuators/registry.ts";
import { powerConfigSchema, type PowerConfig, type PowerConfigInput } from "./config.ts";
import { resolveImage } from "./image.ts";
import { planSteps, type PlannedStep } from "./sequence.ts";
import { usesPlaceholder, type StepVars } from "./substitute.ts";
import { serialQueue } from "../../../calendar/serial-queue.ts";

export { powerConfigSchema, findCycle, type PowerConfig, type PowerConfigInput } from "./config.ts";
export { resolveImage } from "./image.ts";

export interface PowerDriver extends Driver, UsageSource {
  /** Per device: the state read back from hardware where an actuator can, else the last mode entered, else "unknown". */
  readState(): Promise<Record<string, string>>;
  /** What entering `mode` would run, device by device, for `labhog agent --check`. */
  plan(mode?: string): string[];
}

interface DeviceState {
  mode: string;
  reservation?: string;
  ok: boolean;
}

const savedSchema = z.object({ devices: z.record(z.string(), z.object({ mode: z.string(), reservation: z.string().optional(), ok: z.boolean() })) });

/** Parses a power config, turning zod's issues into one readable ValidationError. */
export function parsePowerConfig(input: unknown): PowerConfig {
  const r = powerConfigSchema.safeParse(input);
  if (!r.success) throw new ValidationError(`invalid power config:\n${z.prettifyError(r.error)}`, { issues: r.error.issues });
  return r.data;
}

/**
 * Power and flash for one resource: at a reservation's start every device enters the
 * reservation's mode (default `startMode`, dependencies first), at the end `endMode`.
 * A failing step stops that device's sequence (later steps usually rely on it, e.g.
 * flashing after entering DFU) but the other devices still run; at the end every step
 * of `endMode` is tried even after a failure, because leaving a board powered is the
 * worse outcome.
 */
export function createPowerDriver(input: PowerConfigInput | PowerConfig, deps: Deps): PowerDriver {
  const cfg = parsePowerConfig(input);
  const exec = execOf(deps);
  const actuators = new Map<string, Actuator>(
    Object.entries(cfg.actuators).map(([n, a]) => [n, createActuator(a, { log: deps.log.child({ actuator: n }), exec })]),
  );
  const current = new Map<string, DeviceState>();
  /** The sequence being entered for a reservation; the end of the reservation cuts it short. */
  const pending = new Set<AbortController>();
  const serialized = serialQueue();

  async function enter(device: string, mode: string, vars: StepVars, ctx: DriverContext, opts: { keepGoing: boolean; reservation?: string; signal?: AbortSignal }): Promise<boolean> {
    const simulate = deps.simulate || ctx.simulate;
    const steps = planSteps(cfg, device, mode);
    const log = ctx.log.child({ driver: "power", device, mode });
    let ok = true;
    for (const [i, planned] of steps.entries()) {
      if (opts.signal?.aborted) {
        ok = false;
        ctx.emit({ action: "power", ok: false, message: `${device}: entering ${mode} cut short before step ${i + 1}/${steps.length}: the reservation ended` });
        break;
      }
      const stepOk = await runStep(device, planned, i, steps.length, vars, ctx, log, simulate, opts.signal);
      if (!stepOk) {
        ok = false;
        if (!opts.keepGoing && !planned.step.continueOnError) {
          ctx.emit({ action: "power", ok: false, message: `${device}: stopped entering ${mode} after step ${i + 1}/${steps.length} failed` });
          break;
        }
      }
    }
    current.set(device, { mode, ok, ...(opts.reservation ? { reservation: opts.reservation } : {}) });
    if (ok) ctx.emit({ action: "power", ok: true, message: `${simulate ? "simulate: " : ""}${device} is in mode ${mode}` });
    return ok;
  }

  async function runStep(device: string, { mode, index, step }: PlannedStep, i: number, total: number, vars: StepVars, ctx: DriverContext, log: DriverContext["log"], simulate: boolean, signal?: AbortSignal): Promise<boolean> {
    const actuator = actuators.get(step.actuator)!;
    const what = `${device} ${mode} step ${index + 1} (${step.actuator}): ${actuator.describe(step.parameters, vars)}`;
    if (simulate) {
      log.info("simulate: would run step", { step: what, stabilisationMs: step.stabilisation });
      ctx.emit({ action: "power", ok: true, progress: (i + 1) / total, message: `simulate: would ${what}${step.stabilisation ? `, then wait ${step.stabilisation} ms` : ""}` });
      return true;
    }
    const flashing = actuator.type === "flasher";
    const stepCtx: StepContext = {
      vars,
      log,
      ...(signal ? { signal } : {}),
      progress: (fraction, message) => ctx.emit({ action: flashing ? "flash" : "power", ok: true, progress: fraction, message: `${device}: ${message ?? ""}`.trim() }),
    };
    const started = Date.now();
    try {
      log.info("step", { step: what });
      await actuator.act(step.parameters, stepCtx);
    } catch (e) {
      const why = signal?.aborted ? "cut short: the reservation ended" : `failed: ${(e as Error).message}`;
      log.error("step failed", { step: what, error: e, aborted: signal?.aborted ?? false });
      ctx.emit({ action: flashing ? "flash" : "power", ok: false, message: `${what} ${why}` });
      return false;
    }
    if (flashing) ctx.emit({ action: "flash", ok: true, progress: 1, message: `${device}: flashed in ${Date.now() - started} ms` });
    else ctx.emit({ action: "power", ok: true, progress: (i + 1) / total, message: what });
    if (step.stabilisation > 0) {
      try {
        await sleep(step.stabilisation, signal);
      } catch {
        return false; // cut short: the next round of enter() reports it
      }
    }
    return true;
  }

  /** The steps of entering `mode` on `device` refer to {image}? */
  const needsImage = (device: string, mode: string) =>
    planSteps(cfg, device, mode).some(({ step }) => {
      const argv = (step.parameters as { argv?: unknown }).argv;
      return Array.isArray(argv) && usesPlaceholder(argv as string[], "image");
    });

  async function readState(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [device, dc] of Object.entries(cfg.devices)) {
      const remembered = current.get(device)?.mode ?? "unknown";
      const reader = dc.read ? actuators.get(dc.read.actuator) : undefined;
      // Simulation reads nothing either: the hardware may not even exist there.
      if (!dc.read || !reader?.read || deps.simulate) {
        out[device] = remembered;
        continue;
      }
      try {
        out[device] = await reader.read(dc.read.parameters, { vars: { resource: device }, log: deps.log, progress: () => {} });
      } catch (e) {
        deps.log.warn("cannot read power state", { device, error: e });
        out[device] = `unknown (${(e as Error).message.slice(0, 120)})`;
      }
    }
    return out;
  }

  function plan(mode: string = cfg.startMode): string[] {
    const vars: StepVars = { mode, image: "{image}", holder: "{holder}", resource: "{resource}" };
    return Object.keys(cfg.devices).flatMap((device) =>
      planSteps(cfg, device, mode).map(({ mode: m, index, step }) => {
        const a = actuators.get(step.actuator)!;
        return `${device} ${m} step ${index + 1} (${step.actuator}): ${a.describe(step.parameters, vars)}${step.stabilisation ? `, then wait ${step.stabilisation} ms` : ""}`;
      }),
    );
  }

  return {
    name: "power",
    readState,
    plan,
    collect: readState,

    apply(entry: ScheduleEntry, ctx: DriverContext) {
      const abort = new AbortController();
      pending.add(abort);
      return serialized(async () => {
        if (abort.signal.aborted) return; // released before it even started
        const mode = entry.mode ?? cfg.startMode;
        const devices = Object.keys(cfg.devices).filter((d) => hasOwnKey(cfg.devices[d]!.modes, mode));
        if (devices.length === 0) {
          ctx.emit({ action: "power", ok: false, reservation: entry.id, message: `no device has mode "${mode}"; nothing switched` });
          return;
        }
        const vars: StepVars = { mode, resource: ctx.resource, ...(entry.holder.unix[0] ? { holder: entry.holder.unix[0] } : {}) };
        let imageError: LabhogError | undefined;
        if (entry.image !== undefined) {
          try {
            vars.image = await resolveImage(entry.image, cfg.imagesDir);
          } catch (e) {
            imageError = e instanceof LabhogError ? e : new ValidationError(String(e));
          }
        }
        for (const device of devices) {
          const cur = current.get(device);
          if (cur && cur.ok && cur.mode === mode && cur.reservation === entry.id) {
            ctx.log.debug("already in mode for this reservation", { device, mode });
            continue;
          }
          if (needsImage(device, mode)) {
            if (imageError || vars.image === undefined) {
              const why = imageError ? imageError.message : "the reservation names no image";
              ctx.log.warn("image refused", { device, mode, image: entry.image, error: why });
              ctx.emit({ action: "flash", ok: false, reservation: entry.id, message: `${device}: not entering ${mode}: ${why}` });
              continue;
            }
          }
          await enter(device, mode, vars, ctx, { keepGoing: false, reservation: entry.id, signal: abort.signal });
          if (abort.signal.aborted) break;
        }
      }).finally(() => {
        pending.delete(abort);
      });
    },

    release(ctx: DriverContext) {
      // A flash can take many minutes: the end of the reservation must not wait for it.
      for (const a of pending) a.abort(new Error("the reservation ended"));
      pending.clear();
      return serialized(async () => {
        const mode = cfg.endMode;
        for (const device of Object.keys(cfg.devices)) {
          if (!hasOwnKey(cfg.devices[device]!.modes, mode)) continue;
          const cur = current.get(device);
          if (cur && cur.ok && cur.mode === mode && cur.reservation === undefined) continue;
          await enter(device, mode, { mode, resource: ctx.resource }, ctx, { keepGoing: true });
        }
      });
    },

    state() {
      return { devices: Object.fromEntries(current) };
    },

    async restore(saved: unknown, ctx: DriverContext) {
      const r = savedSchema.safeParse(saved);
      if (!r.success) {
        if (saved !== undefined) ctx.log.warn("ignoring unreadable saved power state", { saved });
        return;
      }
      for (const [d, s] of Object.entries(r.data.devices)) if (hasOwnKey(cfg.devices, d)) current.set(d, s as DeviceState);
    },
  };
}
