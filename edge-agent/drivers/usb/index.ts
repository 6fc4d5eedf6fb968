import { z } from "zod";
import { ValidationError } from "../../../calendar/errors.ts";
import type { ScheduleEntry } from "../../../calendar/schedule/schedule.ts";
import type { Driver, DriverContext, UsageSource } from "../driver.ts";
import { execOf, type Deps } from "../deps.ts";
import { usbConfigSchema, type UsbConfig, type UsbConfigInput } from "./config.ts";
import type { UsbId } from "./device-id.ts";
import { resolveBusIds } from "./sysfs.ts";
import { Usbip } from "./usbip.ts";
import { usbipdRunning } from "./usbipd.ts";

export { usbConfigSchema, type UsbConfig, type UsbConfigInput } from "./config.ts";
export { Usbip, parsePorts, parseRemoteList } from "./usbip.ts";
export { listUsbDevices, resolveBusIds } from "./sysfs.ts";

export interface UsbDeviceState {
  name: string;
  id: string;
  /** Where the device is now (undefined while it is gone, e.g. re-enumerating). */
  busid?: string;
  /** The bus id we bound it on, if bound. */
  bound?: string;
}

export interface UsbDriver extends Driver, UsageSource {
  /** Looks for re-enumerated devices once (the watcher calls this every pollMs while a reservation is active). */
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
 * reservation is active sysfs is polled and a device that re-enumerated on
 * another bus id is bound again there; at the end everything is unbound.
 * usbipd itself does no per-user access control: who may attach is a matter of
 * the network (firewall) — the driver only decides what is exported and when.
 */
export function createUsbDriver(input: UsbConfigInput | UsbConfig, deps: Deps): UsbDriver {
  const cfg = parseUsbConfig(input);
  const usbip = new Usbip(execOf(deps), cfg.usbip, cfg.timeoutMs);
  const tracked: Tracked[] = cfg.devices.map((d) => ({ name: d.name, id: d.id }));
  let active = false;
  let timer: NodeJS.Timeout | undefined;
  let watchCtx: DriverContext | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };
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

  async function step(ctx: DriverContext) {
    for (const t of tracked) {
      const found = await resolveBusIds(cfg.sysfsRoot, t.id);
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

  function startWatch(ctx: DriverContext) {
    watchCtx = ctx;
    if (timer) return;
    timer = setInterval(() => {
      if (!active || !watchCtx) return;
      const c = watchCtx;
      void serialized(() => step(c)).catch((e) => c.log.error("usb poll failed", { error: e }));
    }, cfg.pollMs);
    timer.unref();
  }

  function stopWatch() {
    if (timer) clearInterval(timer);
    timer = undefined;
  }

  return {
    name: "usb",

    apply(_entry: ScheduleEntry, ctx: DriverContext) {
      return serialized(async () => {
        if (!simulating(ctx) && !(await usbipdRunning(cfg.procRoot)))
          ctx.emit({ action: "usb", ok: false, message: "usbipd is not running: devices are bound but nobody can attach them" });
        active = true;
        await step(ctx);
        startWatch(ctx);
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
      });
    },

    poll(ctx: DriverContext) {
      return serialized(async () => { if (active) await step(ctx); });
    },

    state() {
      return { active, devices: tracked.map((t) => ({ id: t.id.text, ...(t.bound ? { bound: t.bound } : {}) })) };
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
      return active ? tracked.filter((t) => t.reported !== undefined && t.bound === undefined).map((t) => `${t.name}: ${t.reported}`) : [];
    },

    devices() {
      return tracked.map((t) => ({ name: t.name, id: t.id.text, ...(t.busid ? { busid: t.busid } : {}), ...(t.bound ? { bound: t.bound } : {}) }));
    },

    async collect() {
      // Fresh from sysfs so usage shows what is plugged in even between reservations.
      const devices = await Promise.all(
        tracked.map(async (t) => {
          const busid = (await resolveBusIds(cfg.sysfsRoot, t.id))[0];
          return { name: t.name, id: t.id.text, present: busid !== undefined, ...(busid ? { busid } : {}), exported: t.bound !== undefined && t.bound === busid };
        }),
      );
      return { devices, usbipd: await usbipdRunning(cfg.procRoot) };
    },
  };
}
