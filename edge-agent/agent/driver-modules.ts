import { z } from "zod";
import type { Driver, UsageSource } from "../drivers/driver.ts";
import type { Deps } from "../drivers/deps.ts";
import type { DriverSchemas } from "../config/agent-config.ts";

/**
 * The power, usb and usage drivers live in their own folders and are loaded
 * by name, so an agent built without one of them (or before it exists) still
 * runs: a resource that configures a missing driver is a config error, the
 * rest works. Registration point: add a driver by adding an entry here.
 */

export interface DriverModules {
  power?: { powerConfigSchema: z.ZodType; createPowerDriver(cfg: unknown, deps: Deps): Driver };
  usb?: { usbConfigSchema: z.ZodType; createUsbDriver(cfg: unknown, deps: Deps): Driver };
  usage?: { usageConfigSchema: z.ZodType; createUsageCollector(cfg: unknown, deps: Deps & { sources?: UsageSource[] }): UsageCollectorLike };
}

/** What the usage driver's collector offers: change-only snapshots with a heartbeat. */
export interface UsageCollectorLike {
  readonly name: string;
  collect(): Promise<unknown>;
  start(onChange: (snapshot: unknown) => void): () => void;
}

async function tryImport(spec: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (await import(spec)) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ERR_MODULE_NOT_FOUND" && String((e as Error).message).includes(spec.replace(/^\.\.?\//, "").split("/").slice(-2).join("/"))) return undefined;
    throw e;
  }
}

export async function loadDriverModules(): Promise<DriverModules> {
  const out: DriverModules = {};
  const power = await tryImport("../drivers/power/index.ts");
  if (power && "powerConfigSchema" in power && "createPowerDriver" in power) out.power = power as unknown as NonNullable<DriverModules["power"]>;
  const usb = await tryImport("../drivers/usb/index.ts");
  if (usb && "usbConfigSchema" in usb && "createUsbDriver" in usb) out.usb = usb as unknown as NonNullable<DriverModules["usb"]>;
  const usage = await tryImport("../drivers/usage/index.ts");
  if (usage && "usageConfigSchema" in usage && "createUsageCollector" in usage) out.usage = usage as unknown as NonNullable<DriverModules["usage"]>;
  return out;
}

/** Schemas for the config; a missing driver's section is refused with a readable message. */
export function schemasOf(mods: DriverModules): DriverSchemas {
  return {
    power: mods.power?.powerConfigSchema ?? missing("power"),
    usb: mods.usb?.usbConfigSchema ?? missing("usb"),
    usage: mods.usage?.usageConfigSchema ?? missing("usage"),
  };
}

function missing(name: string): z.ZodType {
  return z.unknown().refine(() => false, `the ${name} driver is not installed in this agent (edge-agent/drivers/${name}/index.ts)`);
}
