import { z } from "zod";
import { hasOwnKey, own } from "../../../calendar/config/own.ts";
import { actuatorConfigSchema, readParams, stepParams } from "./actuators/registry.ts";
import { durationSchema } from "./duration.ts";

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "letters, digits, '_', '.', '-'");
const modeName = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, "a mode name: lower case, digits, '_', '-'");

export const stepSchema = z.strictObject({
  /** Name of an actuator under `actuators`. */
  actuator: name,
  parameters: z.record(z.string(), z.unknown()).default({}),
  /** Wait after the step, before the next one (Boardswarm's stabilisation). */
  stabilisation: durationSchema.default(0),
  /** Keep going with the sequence if this step fails (e.g. a best-effort console message). */
  continueOnError: z.boolean().default(false),
});

export const modeSchema = z.strictObject({
  /** A mode entered first (e.g. `on` depends on `off` for a clean power cycle). */
  depends: modeName.optional(),
  steps: z.array(stepSchema).default([]),
});

export const deviceSchema = z.strictObject({
  modes: z.record(modeName, modeSchema),
  /** How to read the device's state back; without it, readState reports the last mode entered. */
  read: z.strictObject({ actuator: name, parameters: z.record(z.string(), z.unknown()).default({}) }).optional(),
});

/**
 * A resource's power/flash config (in the agent's own file). Devices have modes,
 * each a sequence of steps on named actuators (Boardswarm's model, labgrid's split
 * between the thing that acts and what it is asked to do).
 */
export const powerConfigSchema = z
  .strictObject({
    /** Images a reservation may name (relative to here, or absolute inside it). */
    imagesDir: z.string().optional(),
    actuators: z.record(name, actuatorConfigSchema).default({}),
    devices: z.record(name, deviceSchema),
    /** Entered at a reservation's start when it names no mode. */
    startMode: modeName.default("on"),
    /** Entered at a reservation's end. */
    endMode: modeName.default("off"),
  })
  .superRefine((cfg, ctx) => {
    for (const [dev, device] of Object.entries(cfg.devices)) {
      for (const [mode, m] of Object.entries(device.modes)) {
        const at = ["devices", dev, "modes", mode];
        if (m.depends !== undefined && !hasOwnKey(device.modes, m.depends))
          ctx.addIssue({ code: "custom", path: [...at, "depends"], message: `mode "${mode}" of device "${dev}" depends on "${m.depends}", which the device does not have` });
        m.steps.forEach((step, i) => {
          const act = own(cfg.actuators, step.actuator);
          if (!act) {
            ctx.addIssue({ code: "custom", path: [...at, "steps", i, "actuator"], message: `no actuator named "${step.actuator}"` });
            return;
          }
          const r = stepParams[act.type].safeParse(step.parameters);
          if (!r.success)
            for (const issue of r.error.issues)
              ctx.addIssue({ code: "custom", path: [...at, "steps", i, "parameters", ...issue.path.map(String)], message: `${act.type}: ${issue.message}` });
        });
      }
      const cycle = findCycle(Object.fromEntries(Object.entries(device.modes).map(([k, v]) => [k, v.depends])));
      if (cycle) ctx.addIssue({ code: "custom", path: ["devices", dev, "modes", cycle[0]!, "depends"], message: `mode dependency cycle in device "${dev}": ${cycle.join(" → ")}` });
      if (device.read) {
        const act = own(cfg.actuators, device.read.actuator);
        const schema = act ? readParams[act.type] : undefined;
        if (!act) ctx.addIssue({ code: "custom", path: ["devices", dev, "read", "actuator"], message: `no actuator named "${device.read.actuator}"` });
        else if (!schema) ctx.addIssue({ code: "custom", path: ["devices", dev, "read", "actuator"], message: `a ${act.type} actuator cannot read state back` });
        else {
          const r = schema.safeParse(device.read.parameters);
          if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: "custom", path: ["devices", dev, "read", "parameters", ...issue.path.map(String)], message: issue.message });
        }
      }
    }
    const modes = new Set(Object.values(cfg.devices).flatMap((d) => Object.keys(d.modes)));
    if (!modes.has(cfg.endMode)) ctx.addIssue({ code: "custom", path: ["endMode"], message: `no device has the end mode "${cfg.endMode}"` });
  });

export type PowerConfig = z.infer<typeof powerConfigSchema>;
export type PowerConfigInput = z.input<typeof powerConfigSchema>;
export type StepConfig = z.infer<typeof stepSchema>;

/** The first dependency cycle, as the path that closes it (a → b → a), or undefined. */
export function findCycle(depends: Record<string, string | undefined>): string[] | undefined {
  const done = new Set<string>();
  for (const start of Object.keys(depends)) {
    const path: string[] = [];
    let cur: string | undefined = start;
    while (cur !== undefined && !done.has(cur)) {
      const i = path.indexOf(cur);
      if (i >= 0) return [...path.slice(i), cur];
      path.push(cur);
      cur = own(depends, cur);
    }
    for (const p of path) done.add(p);
  }
  return undefined;
}
