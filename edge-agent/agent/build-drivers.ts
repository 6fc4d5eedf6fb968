import type { AgentConfig, ResourceConfig } from "../config/agent-config.ts";
import { durationMs } from "../config/agent-config.ts";
import type { Logger } from "../log.ts";
import type { UsageSource } from "../drivers/driver.ts";
import type { MqttPort } from "../drivers/console/index.ts";
import { HogDriver } from "../drivers/hog/index.ts";
import { NotifyDriver } from "../drivers/notify/index.ts";
import type { DriverModules, UsageCollectorLike } from "./driver-modules.ts";
import type { AgentDriver } from "./resource-runner.ts";
import { DEFAULT_STATE_DIR, summaryPath } from "./summary.ts";

export interface BuiltDrivers {
  drivers: AgentDriver[];
  /** The usage collector of this resource (it reads the power/usb drivers as sources). */
  usage?: UsageCollectorLike;
  /** Drivers that only tell people (notify): their failures are reported but leave the booking enforced. */
  advisory: Set<string>;
}

/** What a locked-out user's key runs: the status command, told where the summary is when not in the default place. */
export function statusCommand(cfg: AgentConfig): string {
  return cfg.stateDir === DEFAULT_STATE_DIR ? cfg.hog.statusCommand : `${cfg.hog.statusCommand} --file ${summaryPath(cfg.stateDir)}`;
}

/**
 * The drivers of one resource, in apply order: power first (the board must
 * be on before anything else), then usb, then access (device ACLs), then hog (lock SSH), then notify
 * (announce what is in place). Release runs in reverse.
 */
export function buildDrivers(cfg: AgentConfig, r: ResourceConfig, mods: DriverModules, opts: { simulate: boolean; log: Logger; checkpoint(): Promise<void>; mqtt?: MqttPort }): BuiltDrivers {
  const log = opts.log.child({ resource: r.id });
  const deps = { log, simulate: opts.simulate };
  const drivers: AgentDriver[] = [];
  const sources: UsageSource[] = [];
  if (r.power !== undefined && mods.power) {
    const d = mods.power.createPowerDriver(r.power, deps);
    drivers.push(d);
    if ("collect" in d) sources.push(d as unknown as UsageSource);
  }
  if (r.usb !== undefined && mods.usb) {
    const d = mods.usb.createUsbDriver(r.usb, deps);
    drivers.push(d);
    if ("collect" in d) sources.push(d as unknown as UsageSource);
  }
  if (r.access !== undefined && mods.access) {
    const d = mods.access.createAccessDriver(r.access, deps);
    drivers.push(d);
    if ("collect" in d) sources.push(d as unknown as UsageSource);
  }
  if (r.console !== undefined && mods.console && opts.mqtt) {
    // The console talks MQTT itself (console/in, console/out): the agent routes its topics to it.
    drivers.push(mods.console.createConsoleDriver(r.console, { ...deps, resource: r.id, mqtt: opts.mqtt }));
  }
  if (r.hog) {
    drivers.push(new HogDriver(cfg.hog, { ...deps, stateDir: cfg.stateDir, statusCommand: statusCommand(cfg), checkpoint: opts.checkpoint }));
  }
  if (r.notify) {
    const multi = cfg.resources.filter((x) => x.notify).length > 1;
    const motd = cfg.notify.motd === false ? false : multi ? `${cfg.notify.motd}-${r.id}` : cfg.notify.motd;
    const nd: ConstructorParameters<typeof NotifyDriver>[0] = { ...deps, resource: r.id, stateDir: cfg.stateDir, motd, wall: cfg.notify.wall, tmux: cfg.notify.tmux, endingSoonMs: durationMs(cfg.notify.endingSoon) };
    if (cfg.statusUrl !== undefined) nd.statusUrl = cfg.statusUrl;
    drivers.push(new NotifyDriver(nd));
  }
  // A console that can't open is reported, but the booking itself stays in place.
  const out: BuiltDrivers = { drivers, advisory: new Set(["notify", "console"]) };
  if (r.usage !== undefined && mods.usage) out.usage = mods.usage.createUsageCollector(r.usage, { ...deps, sources });
  return out;
}

export const endingSoonMs = (cfg: AgentConfig) => durationMs(cfg.notify.endingSoon);
