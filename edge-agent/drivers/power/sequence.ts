import type { PowerConfig, StepConfig } from "./config.ts";
import { own } from "../../../calendar/config/own.ts";

/** The modes to enter, dependencies first: entering `on` that depends on `off` yields [off, on]. */
export function modePlan(cfg: PowerConfig, device: string, mode: string): string[] {
  const modes = own(cfg.devices, device)?.modes ?? {};
  const plan: string[] = [];
  // Config validation rejects cycles; the bound guards a config built around the schema.
  for (let m: string | undefined = mode; m !== undefined && plan.length <= Object.keys(modes).length; m = own(modes, m)?.depends) plan.unshift(m);
  return plan;
}

export interface PlannedStep {
  mode: string;
  index: number;
  step: StepConfig;
}

export function planSteps(cfg: PowerConfig, device: string, mode: string): PlannedStep[] {
  const modes = own(cfg.devices, device)?.modes ?? {};
  return modePlan(cfg, device, mode).flatMap((m) => (own(modes, m)?.steps ?? []).map((step, index) => ({ mode: m, index, step })));
}
