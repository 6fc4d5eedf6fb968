import { z } from "zod";
import { ValidationError } from "../../../calendar/errors.ts";
import type { ScheduleEntry } from "../../../calendar/schedule/schedule.ts";
import type { Driver, DriverContext, UsageSource } from "../driver.ts";
import { execOf, type Deps } from "../deps.ts";
import { usbConfigSchema, type UsbConfig, type UsbConfigInput } from "./config.ts";
import type { UsbId } from "./device-id.ts";
import { pollingHotplug, type HotplugSource } from "./hotplug.ts";
import { UsbipFirewall, uidsOf } from "./firewall.ts";
import { libusbHotplug, serialAt } from "./libusb.ts";
import { resolveBusIds, usbipStatus } from "./sysfs.ts";
import { Usbip } from "./usbip.ts";
import { usbipdRunning } from "./usbipd.ts";
import { serialQueue } from "../../../calendar/serial-queue.ts";

export { usbConfigSchema, type UsbConfig, type UsbConfigInput } from "./config.ts";
export { Usbip, parsePorts, parseRemoteList } from "./usbip.ts";
export { busidOfTty, listUsbDevices, resolveBusIds, ttysOf, usbipStatus } from "./sysfs.ts";
export { rulesetText, UsbipFirewall, TABLE as USBIP_TABLE } from "./firewall.ts";
export { busidOf, libusbHotplug, listLibusbDevices } from "./libusb.ts";
export { pollingHotplug, type HotplugSource } from "./hotplug.ts";

export interface UsbDeviceState {
  name: string;
  id: string;
  /** Where the device is now (undefined while it is gone, e.g. re-enumerating). */
  busid?: string;
  /** The bus id we bound it on, if bound. */
  bound?: string;
}

export interface UsbDeps extends Deps {
  /** Where attach/detach events come from; default: the `usb` package (libusb), with the pollMs poll as a safety net. */
  hotplug?: HotplugSource;
}

export interface UsbDriver extends Driver, UsageSource {
  /** Looks for re-enumerated devices once (what a hotplug event, or the safety-net poll, triggers). */
  poll(ctx: DriverContext): Promise<void>;
  devices(): UsbDeviceState[];
}

const savedSchema = z.object({ active: z.boolean(), devices: z.array(z.object({ id: z.string(), bound: z.string().optional() })) });

export function parseUsbConfig(input: unknown): UsbConfig {
  const r = usbConfigSchema.safeParse(input);
  if (!r.success) throw new ValidationError(`invalid usb config:\n${z.prettifyError(r.error)}`, { issues: r.error.issues });
  return r.data;
}

interface Tracked {
  name: string;
  id: UsbId;
  busid?: string;
  bound?: string;
  /** The last failure reported, so a device that keeps failing is not reported every poll. */
  reported?: string;
  /** Bound according to saved state, not yet confirmed since start-up (bindings do not survive a reboot). */
  unconfirmed?: boolean;
}

/**
 * usbip, host side: at a reservation's start each configured device is found in
 * sysfs by vendor:product[:serial] and bound (`usbip bind -b BUSID`); while the
 * reservation is active every USB attach/detach event (libusb hotplug, with a
 * slow poll as the safety net) looks again, and a device that re-enumerated on
 * another bus id is bound again there; at the end everything is unbound.
 *
 * usbipd itself does no per-user access control: whoever reaches its port may
 * attach. So, unless `holderOnly: false`, the driver first puts an nftables
 * table in place that refuses the port from the network and lets through on
 * lo only the holder's own processes (their SSH tunnel, which `labhog attach`
 * opens); no device is bound before that table is in place (firewall.ts).
 */
export function createUsbDriver(input: UsbConfigInput | UsbConfig, deps: UsbDeps): UsbDriver {
  const cfg = parseUsbConfig(input);
  const exec = execOf(deps);
  const usbip = new Usbip(exec, cfg.usbip, cfg.timeoutMs);
  const firewall = cfg.holderOnly === false ? undefined : new UsbipFirewall(exec, cfg.holderOnly.nft);
  const tracked: Tracked[] = cfg.devices.map((d) => ({ name: d.name, id: d.id }));
  let active = false;
  /** The uids the firewall lets through now; undefined: no table of ours (released, or holderOnly off). */
  let allowed: number[] | undefined;
  let firewallProblem: string | undefined;
  let unsubscribe: (() => void) | undefined;
  let watchCtx: DriverContext | undefined;
  const serialized = serialQueue();
  const simulating = (ctx: DriverContext) => deps.simulate || ctx.simulate;

  function failOnce(t: Tracked, ctx: DriverContext, message: string) {
    if (t.reported === message) return;
    t.reported = message;
    ctx.log.warn("usb", { device: t.name, message });
    ctx.emit({ action: "usb", ok: false, message: `${t.name}: ${message}` });
  }

  async function unbind(t: Tracked, busid: string, ctx: DriverContext, why: string) {
    if (simulating(ctx)) {
      ctx.emit({ action: "usb", ok: true, message: `simulate: would run ${cfg.usbip} unbind -b ${busid} (${t.name}, ${why})` });
      return;
    }
    try {
      const r = await usbip.unbind(busid);
      ctx.emit({ action: "usb", ok: true, message: `${t.name}: ${r === "unbound" ? "unbound" : "was not bound"} on ${busid} (${why})` });
    } catch (e) {
      ctx.emit({ action: "usb", ok: false, message: `${t.name}: unbind ${busid} failed: ${(e as Error).message}` });
    }
  }

  // A serial that sysfs does not show is read from the device's descriptor through libusb.
  const readSerial = (busid: string) => serialAt(busid);

  /** Lets the holder's unix logins (and only them) reach usbipd; throws when that can't be put in place. */
  async function fence(entry: ScheduleEntry, ctx: DriverContext): Promise<void> {
    if (!firewall || cfg.holderOnly === false) return;
    const port = cfg.holderOnly.port;
    const { uids, missing } = await uidsOf(exec, entry.holder.unix, cfg.holderOnly.getent);
    if (simulating(ctx)) {
      ctx.emit({ action: "usb-firewall", ok: true, message: `simulate: would let uids ${uids.join(", ") || "(none)"} reach usbipd on port ${port} through lo, nobody from the network` });
      return;
    }
    try {
      await firewall.allow(ctx.resource, { port, uids });
    } catch (e) {
      firewallProblem = `cannot restrict usbipd to the holder (nftables): ${(e as Error).message}`;
      ctx.emit({ action: "usb-firewall", ok: false, message: firewallProblem });
      throw new Error(firewallProblem);
    }
    allowed = uids;
    firewallProblem = missing.length
      ? `${missing.join(", ")}: no such login on this host, not let through to usbipd`
      : entry.holder.unix.length === 0
        ? `${entry.holder.id} has no unix login on this host: nobody can reach usbipd (an SSH tunnel needs one)`
        : undefined;
    ctx.emit({ action: "usb-firewall", ok: firewallProblem === undefined, message: firewallProblem ?? `usbipd (port ${port}) reachable only by ${entry.holder.unix.join(", ")} through lo (an SSH tunnel)` });
  }

  async function unfence(ctx: DriverContext): Promise<void> {
    if (!firewall || simulating(ctx)) return;
    try {
      // Also when we don't remember a table: a crash may have left one behind.
      await firewall.remove(ctx.resource);
      if (allowed !== undefined) ctx.emit({ action: "usb-firewall", ok: true, message: "usbipd firewall removed (nothing is bound)" });
      allowed = undefined;
      firewallProblem = undefined;
    } catch (e) {
      firewallProblem = `cannot remove the usbipd firewall: ${(e as Error).message}`;
      ctx.emit({ action: "usb-firewall", ok: false, message: firewallProblem });
    }
  }

  async function step(ctx: DriverContext) {
    for (const t of tracked) {
      const found = await resolveBusIds(cfg.sysfsRoot, t.id, readSerial);
      if (found.length > 1 && t.id.serial === undefined) failOnce(t, ctx, `${found.length} devices match ${t.id.text} (${found.join(", ")}); using ${found[0]}; add a serial to tell them apart`);
      const busid = found[0];
      const was = t.busid;
      if (busid === undefined) {
        delete t.busid;
        if (was !== undefined) ctx.emit({ action: "usb", ok: true, message: `${t.name}: gone from ${was}; waiting for it to come back` });
        else if (t.bound === undefined) failOnce(t, ctx, `${t.id.text} is not plugged in`);
        continue;
      }
      t.busid = busid;
      // Bound where it is and seen there continuously: nothing to do. A device that vanished
      // and came back on the same bus id is bound again (its binding went with it).
      if (t.bound === busid && was === busid && !t.unconfirmed) continue;
      if (t.bound !== undefined && t.bound !== busid) await unbind(t, t.bound, ctx, `re-enumerated on ${busid}`);
      if (simulating(ctx)) {
        ctx.emit({ action: "usb", ok: true, message: `simulate: would run ${cfg.usbip} bind -b ${busid} (${t.name})` });
        t.bound = busid;
        delete t.unconfirmed;
        continue;
      }
      try {
        const r = await usbip.bind(busid);
        t.bound = busid;
        delete t.unconfirmed;
        delete t.reported;
        ctx.emit({ action: "usb", ok: true, message: `${t.name}: ${r === "bound" ? "bound" : "already bound"} on ${busid}${was !== undefined && was !== busid ? ` (moved from ${was})` : ""}` });
      } catch (e) {
        // Retried on the next poll.
        delete t.bound;
        failOnce(t, ctx, `bind ${busid} failed: ${(e as Error).message}`);
      }
    }
  }

  async function startWatch(ctx: DriverContext) {
    watchCtx = ctx;
    if (unsubscribe) return;
    // Attach/detach events find a re-enumerated device at once; the poll catches what they miss
    // (a libusb without hotplug, no USB bus visible to libusb, an event lost in a burst).
    const events = deps.hotplug ?? (await libusbHotplug());
    const sources = [...(events ? [events] : []), pollingHotplug(cfg.pollMs)];
    const onChange = () => {
      if (!active || !watchCtx) return;
      const c = watchCtx;
      void serialized(async () => { if (active) await step(c); }).catch((e) => c.log.error("usb re-resolution failed", { error: e }));
    };
    const offs = sources.map((s) => s.subscribe(onChange));
    unsubscribe = () => offs.forEach((off) => off());
    ctx.log.info("usb: watching for USB changes", { sources: sources.map((s) => s.kind) });
  }

  function stopWatch() {
    unsubscribe?.();
    unsubscribe = undefined;
  }

  return {
    name: "usb",

    apply(entry: ScheduleEntry, ctx: DriverContext) {
      return serialized(async () => {
        // The fence first: a device bound before it would be open to anyone who reaches the port.
        await fence(entry, ctx);
        if (!simulating(ctx) && !(await usbipdRunning(cfg.procRoot)))
          ctx.emit({ action: "usb", ok: false, message: "usbipd is not running: devices are bound but nobody can attach them" });
        active = true;
        await step(ctx);
        await startWatch(ctx);
      });
    },

    release(ctx: DriverContext) {
      stopWatch();
      return serialized(async () => {
        active = false;
        for (const t of tracked) {
          if (t.bound !== undefined) await unbind(t, t.bound, ctx, "reservation ended");
          delete t.bound;
          delete t.unconfirmed;
          delete t.reported;
        }
        // Only once nothing is bound: the port is closed to everyone until then.
        await unfence(ctx);
      });
    },

    poll(ctx: DriverContext) {
      return serialized(async () => { if (active) await step(ctx); });
    },

    state() {
      return { active, devices: tracked.map((t) => ({ id: t.id.text, ...(t.bound ? { bound: t.bound } : {}) })), ...(allowed ? { allowedUids: allowed } : {}) };
    },

    async restore(saved: unknown, ctx: DriverContext) {
      const r = savedSchema.safeParse(saved);
      if (!r.success) {
        if (saved !== undefined) ctx.log.warn("ignoring unreadable saved usb state", { saved });
        return;
      }
      for (const s of r.data.devices) {
        const t = tracked.find((x) => x.id.text === s.id);
        if (t && s.bound) { t.bound = s.bound; t.unconfirmed = true; }
      }
    },

    problems() {
      // A failure is reported once (failOnce); a retry that fails the same way is silent, so it is listed here.
      const devices = active ? tracked.filter((t) => t.reported !== undefined && t.bound === undefined).map((t) => `${t.name}: ${t.reported}`) : [];
      return [...(firewallProblem ? [firewallProblem] : []), ...devices];
    },

    devices() {
      return tracked.map((t) => ({ name: t.name, id: t.id.text, ...(t.busid ? { busid: t.busid } : {}), ...(t.bound ? { bound: t.bound } : {}) }));
    },

    async collect() {
      // Fresh from sysfs so usage shows what is plugged in even between reservations.
      const devices = await Promise.all(
        tracked.map(async (t) => {
          const busid = (await resolveBusIds(cfg.sysfsRoot, t.id, readSerial))[0];
          const exported = t.bound !== undefined && t.bound === busid;
          // usbip-host's own word on whether a client holds the device; with the firewall only the holder can.
          const attached = exported && busid !== undefined && (await usbipStatus(cfg.sysfsRoot, busid)) === "used";
          return { name: t.name, id: t.id.text, present: busid !== undefined, ...(busid ? { busid } : {}), exported, attached };
        }),
      );
      return { devices, usbipd: await usbipdRunning(cfg.procRoot), holderOnly: cfg.holderOnly !== false };
    },
  };
}
