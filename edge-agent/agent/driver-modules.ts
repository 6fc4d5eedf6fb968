import { z } from "zod";
import type { Driver, UsageSource } from "../drivers/driver.ts";
import type { Deps } from "../drivers/deps.ts";
import type { DriverSchemas } from "../config/agent-config.ts";
import type { ConsoleDeps, ConsoleDriver } from "../drivers/console/index.ts";

/**
 * The power, usb and usage drivers live in their own folders and are loaded
 * by name, so an agent built without one of them (or before it exists) still
 * runs: a resource that configures a missing driver is a config error, the
 * rest works. Registration point: add a driver by adding an entry here.
 */

export interface DriverModules {
  power?: { powerConfigSchema: z.ZodType; createPowerDriver(cfg: unknown, deps: Deps): Driver };
  usb?: { usbConfigSchema: z.ZodType; createUsbDriver(cfg: unknown, deps: Deps): Driver };
  access?: { accessConfigSchema: z.ZodType; createAccessDriver(cfg: unknown, deps: Deps): Driver };
  console?: { consoleConfigSchema: z.ZodType; createConsoleDriver(cfg: unknown, deps: ConsoleDeps): ConsoleDriver };
  usage?: { usageConfigSchema: z.ZodType; createUsageCollector(cfg: unknown, deps: Deps & { sources?: UsageSource[] }): UsageCollectorLike };
}

/** What the usage driver's collector offers: change-only snapshots with a heartbeat. */
export interface UsageCollectorLike {
  readonly name: string;
  collect(): Promise<unknown>;
  start(onChange: (snapshot: unknown) => void): () => void;
  /** Collect now (once started), e.g. after a power mode changed. */
  wake?(): void;
}

/** The drivers loaded by name; the others (hog, notify) are always there. */
export const OPTIONAL_DRIVERS = ["power", "usb", "access", "console", "usage"] as const;
export type OptionalDriver = (typeof OPTIONAL_DRIVERS)[number];

// Each import names its file literally, so the bundler (scripts/build-agent.mjs)
// puts every driver in a chunk of its own that is read only when loaded here.
const importers: Record<OptionalDriver, () => Promise<Record<string, unknown>>> = {
  power: () => import("../drivers/power/index.ts"),
  usb: () => import("../drivers/usb/index.ts"),
  access: () => import("../drivers/access/index.ts"),
  console: () => import("../drivers/console/index.ts"),
  usage: () => import("../drivers/usage/index.ts"),
};

async function tryImport(name: OptionalDriver): Promise<Record<string, unknown> | undefined> {
  try {
    return await importers[name]();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ERR_MODULE_NOT_FOUND" && String((e as Error).message).includes(`drivers/${name}/index`)) return undefined;
    throw e;
  }
}

/** The optional drivers an agent config document names in any resource: only those need loading. */
export function driversNamedIn(doc: unknown): OptionalDriver[] {
  const resources = (doc as { resources?: unknown } | null)?.resources;
  if (!Array.isArray(resources)) return [];
  return OPTIONAL_DRIVERS.filter((d) => resources.some((r) => r !== null && typeof r === "object" && Object.hasOwn(r, d)));
}

/** Loads the named drivers (all of them by default), so a host pays only for what it configures. */
export async function loadDriverModules(names: readonly OptionalDriver[] = OPTIONAL_DRIVERS): Promise<DriverModules> {
  const out: DriverModules = {};
  const power = names.includes("power") ? await tryImport("power") : undefined;
  if (power && "powerConfigSchema" in power && "createPowerDriver" in power) out.power = power as unknown as NonNullable<DriverModules["power"]>;
  const usb = names.includes("usb") ? await tryImport("usb") : undefined;
  if (usb && "usbConfigSchema" in usb && "createUsbDriver" in usb) out.usb = usb as unknown as NonNullable<DriverModules["usb"]>;
  const access = names.includes("access") ? await tryImport("access") : undefined;
  if (access && "accessConfigSchema" in access && "createAccessDriver" in access) out.access = access as unknown as NonNullable<DriverModules["access"]>;
  const consoleMod = names.includes("console") ? await tryImport("console") : undefined;
  if (consoleMod && "consoleConfigSchema" in consoleMod && "createConsoleDriver" in consoleMod) out.console = consoleMod as unknown as NonNullable<DriverModules["console"]>;
  const usage = names.includes("usage") ? await tryImport("usage") : undefined;
  if (usage && "usageConfigSchema" in usage && "createUsageCollector" in usage) out.usage = usage as unknown as NonNullable<DriverModules["usage"]>;
  return out;
}

/** Schemas for the config; a missing driver's section is refused with a readable message. */
export function schemasOf(mods: DriverModules): DriverSchemas {
  return {
    power: mods.power?.powerConfigSchema ?? missing("power"),
    usb: mods.usb?.usbConfigSchema ?? missing("usb"),
    access: mods.access?.accessConfigSchema ?? missing("access"),
    console: mods.console?.consoleConfigSchema ?? missing("console"),
    usage: mods.usage?.usageConfigSchema ?? missing("usage"),
  };
}

function missing(name: string): z.ZodType {
  return z.unknown().refine(() => false, `the ${name} driver is not installed in this agent (edge-agent/drivers/${name}/index.ts)`);
}
