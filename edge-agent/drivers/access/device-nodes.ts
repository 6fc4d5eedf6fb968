import { readdir, readFile, realpath } from "node:fs/promises";
import { join } from "node:path";
import { listUsbDevices, matches } from "../usb/sysfs.ts";
import type { AccessDevice } from "./config.ts";

/**
 * The device nodes a configured device stands for right now. sysfs is the
 * truth for USB devices: `/sys/bus/usb/devices/<busid>` names the bus and
 * device numbers (→ `/dev/bus/usb/BBB/DDD`, what libusb tools such as
 * fastboot, openocd and dfu-util open) and, below its interfaces, its ttys
 * (`<busid>:1.0/ttyUSB0`, `<busid>:1.0/tty/ttyACM0`). A device that
 * re-enumerates (reset, DFU mode) gets new numbers, so this is asked again
 * on every hotplug event.
 */
export interface NodeRoots {
  sysfsRoot: string;
  devRoot: string;
}

const attr = (dir: string, name: string) => readFile(join(dir, name), "utf8").then((s) => s.trim(), () => undefined);

async function ttysBelow(deviceDir: string, busid: string): Promise<string[]> {
  const out: string[] = [];
  const names = await readdir(deviceDir).catch(() => [] as string[]);
  for (const iface of names.filter((n) => n.startsWith(`${busid}:`))) {
    const dir = join(deviceDir, iface);
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const e of entries) {
      if (/^tty(USB|ACM|S)\d+$/.test(e)) out.push(e);
      else if (e === "tty") out.push(...(await readdir(join(dir, "tty")).catch(() => [] as string[])).filter((t) => /^tty\w+$/.test(t)));
    }
  }
  return out.sort();
}

export async function usbNodes(roots: NodeRoots, device: Extract<AccessDevice, { usb: unknown }>): Promise<string[]> {
  const base = join(roots.sysfsRoot, "bus", "usb", "devices");
  const nodes: string[] = [];
  for (const d of (await listUsbDevices(base)).filter((x) => matches(device.usb, x))) {
    const dir = join(base, d.busid);
    const [bus, dev] = await Promise.all([attr(dir, "busnum"), attr(dir, "devnum")]);
    if (bus && dev && /^\d+$/.test(bus) && /^\d+$/.test(dev)) nodes.push(join(roots.devRoot, "bus", "usb", bus.padStart(3, "0"), dev.padStart(3, "0")));
    // The interfaces are folders of the device's own folder (`1-2/1-2:1.0/`).
    for (const tty of await ttysBelow(dir, d.busid)) nodes.push(join(roots.devRoot, tty));
  }
  return nodes;
}

/** Every node of every configured device that exists now (symlinks resolved: the ACL belongs on the node). */
export async function resolveNodes(roots: NodeRoots, devices: readonly AccessDevice[]): Promise<string[]> {
  const out = new Set<string>();
  for (const d of devices) {
    const candidates = "path" in d ? [d.path] : await usbNodes(roots, d);
    for (const c of candidates) {
      const real = await realpath(c).catch(() => undefined);
      if (real) out.add(real);
    }
  }
  return [...out].sort();
}
