import { stat } from "node:fs/promises";
import { z } from "zod";
import { ValidationError } from "../../../calendar/errors.ts";
import { parseDurationMs } from "../../../calendar/duration.ts";
import type { ScheduleEntry } from "../../../calendar/schedule/schedule.ts";
import type { Driver, DriverContext, UsageSource } from "../driver.ts";
import { execOf, type Deps } from "../deps.ts";
import { Acl } from "./acl.ts";
import { accessConfigSchema, type AccessConfig, type AccessConfigInput } from "./config.ts";
import { resolveNodes } from "./device-nodes.ts";
import { pollingHotplug, usbHotplug, type HotplugSource } from "./hotplug.ts";
import { serialQueue } from "../../../calendar/serial-queue.ts";

export { accessConfigSchema, type AccessConfig, type AccessConfigInput } from "./config.ts";
export { parseNamedUsers } from "./acl.ts";
export type { HotplugSource } from "./hotplug.ts";

const gone = (node: string) => stat(node).then(() => false, (e: NodeJS.ErrnoException) => e.code === "ENOENT");

export function parseAccessConfig(input: unknown): AccessConfig {
  const r = accessConfigSchema.safeParse(input);
  if (!r.success) throw new ValidationError(`invalid access config:\n${z.prettifyError(r.error)}`, { issues: r.error.issues });
  return r.data;
}

export interface AccessDriver extends Driver, UsageSource {
  /** Looks the nodes up again and fixes their ACLs (what a hotplug event triggers). */
  resync(ctx: DriverContext): Promise<void>;
  problems(): string[];
}

export interface AccessDeps extends Deps {
  /** Where attach/detach events come from; default: the `usb` package, else polling. */
  hotplug?: HotplugSource;
}

/**
 * Device access for boards on shared hosts: while a booking runs, the
 * holder's unix logins get read-write ACLs on the board's device nodes (its
 * tty, its /dev/bus/usb nodes), so they can run picocom, fastboot, openocd or
 * dfu-util locally; nobody else has one.
 *
 * labhog owns the named-user ACL entries of the nodes it manages: on apply
 * every entry but the holder's is removed, on release all of them. That needs
 * no memory of what was granted, so a crash between a grant and the state
 * file, a kill -9 or a reboot can't leave anyone with access: the agent
 * releases at start-up what no booking holds. Group entries and mode bits
 * stay as the admin or udev set them.
 */
export function createAccessDriver(input: AccessConfigInput | AccessConfig, deps: AccessDeps): AccessDriver {
  const cfg = parseAccessConfig(input);
  const acl = new Acl(execOf(deps), cfg.setfacl, cfg.getfacl);
  const roots = { sysfsRoot: cfg.sysfsRoot, devRoot: cfg.devRoot };
  let holder: string[] | undefined;
  let nodes: string[] = [];
  let problems: string[] = [];
  let unsubscribe: (() => void) | undefined;
  const serialized = serialQueue();
  const simulating = (ctx: DriverContext) => deps.simulate || ctx.simulate;

  /** Makes the ACLs of every managed node say: exactly `logins` (none when released). */
  async function settle(logins: readonly string[], ctx: DriverContext): Promise<string[]> {
    const found = await resolveNodes(roots, cfg.devices);
    const failed: string[] = [];
    if (logins.length && !found.length) failed.push(`no device node present for ${cfg.devices.map((d) => ("path" in d ? d.path : d.usb.text)).join(", ")}`);
    for (const node of found) {
      if (simulating(ctx)) {
        ctx.log.info("access (simulated)", { node, logins });
        continue;
      }
      let current: Map<string, string>;
      try {
        current = await acl.namedUsers(node);
      } catch (e) {
        // A device that goes away while we look (reset, DFU switch) takes its node along: not a failure, the next event finds it again.
        if (await gone(node)) continue;
        failed.push(`${node}: cannot read its ACL: ${(e as Error).message}`);
        continue;
      }
      for (const login of current.keys()) {
        if (logins.includes(login)) continue;
        try {
          await acl.revoke(node, login);
          ctx.emit({ action: "access-revoked", ok: true, message: `${node}: ${login}` });
        } catch (e) {
          if (!(await gone(node))) failed.push(`${node}: cannot remove ${login}'s access: ${(e as Error).message}`);
        }
      }
      for (const login of logins) {
        if (current.get(login) === "rw-") continue;
        try {
          await acl.grant(node, login);
        } catch (e) {
          if (!(await gone(node))) failed.push(`${node}: cannot give ${login} access: ${(e as Error).message}`);
        }
      }
    }
    nodes = found;
    return failed;
  }

  async function sync(ctx: DriverContext): Promise<void> {
    const logins = holder ?? [];
    const failed = await settle(logins, ctx);
    const changed = failed.join("\n") !== problems.join("\n");
    problems = failed;
    if (failed.length) {
      if (changed) ctx.emit({ action: "access", ok: false, message: failed.join("; ") });
      throw new Error(failed.join("; "));
    }
    if (changed || logins.length) ctx.emit({ action: logins.length ? "access-granted" : "access-cleared", ok: true, message: `${nodes.join(", ") || "no nodes"}${logins.length ? ` for ${logins.join(", ")}` : ""}` });
  }

  async function watch(ctx: DriverContext): Promise<void> {
    if (unsubscribe) return;
    // Hotplug events find a re-enumerated device at once; the slow poll is the safety net
    // (a libusb without hotplug, a tty that appears after its USB device, a node fixed by hand).
    const events = deps.hotplug ?? (await usbHotplug());
    const sources = [...(events ? [events] : []), pollingHotplug(parseDurationMs(cfg.pollInterval))];
    const onChange = () => {
      // A device came or went: its nodes may have new names; give them to the holder again.
      void serialized(() => sync(ctx)).catch((e: Error) => ctx.log.warn("access resync failed", { error: e.message }));
    };
    const offs = sources.map((s) => s.subscribe(onChange));
    unsubscribe = () => offs.forEach((off) => off());
    ctx.log.info("access: watching for USB changes", { sources: sources.map((s) => s.kind) });
  }

  return {
    name: "access",
    apply(entry: ScheduleEntry, ctx: DriverContext) {
      return serialized(async () => {
        if (!entry.holder.unix.length) {
          problems = [`${entry.holder.id ?? "the holder"} has no unix login on this host: nobody gets the devices`];
          holder = [];
          await settle([], ctx).catch(() => undefined);
          throw new Error(problems[0]);
        }
        holder = [...entry.holder.unix];
        await watch(ctx);
        await sync(ctx);
      });
    },
    release(ctx: DriverContext) {
      return serialized(async () => {
        unsubscribe?.();
        unsubscribe = undefined;
        holder = undefined;
        await sync(ctx);
      });
    },
    resync(ctx: DriverContext) {
      return serialized(() => sync(ctx));
    },
    problems: () => [...problems],
    async collect() {
      return { access: { holder: holder ?? [], nodes } };
    },
  };
}
