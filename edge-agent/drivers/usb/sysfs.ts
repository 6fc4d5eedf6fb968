import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { BUSID, type UsbId } from "./device-id.ts";

export interface SysfsDevice {
  busid: string;
  vendor: string;
  product: string;
  serial?: string;
}

const attr = (dir: string, name: string) => readFile(join(dir, name), "utf8").then((s) => s.trim(), () => undefined);

/**
 * The USB devices the kernel lists under `root` (/sys/bus/usb/devices, or a fake
 * tree in tests). Interfaces ("1-1:1.0") and root hubs ("usb1") are skipped.
 */
export async function listUsbDevices(root: string): Promise<SysfsDevice[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const out: SysfsDevice[] = [];
  for (const busid of names.filter((n) => BUSID.test(n)).sort()) {
    const dir = join(root, busid);
    const [vendor, product, serial] = await Promise.all([attr(dir, "idVendor"), attr(dir, "idProduct"), attr(dir, "serial")]);
    // A device that is going away mid-read has no attributes left: skip it, the next poll sees the truth.
    if (!vendor || !product) continue;
    out.push({ busid, vendor: vendor.toLowerCase(), product: product.toLowerCase(), ...(serial ? { serial } : {}) });
  }
  return out;
}

export function matches(id: UsbId, d: SysfsDevice): boolean {
  return d.vendor === id.vendor && d.product === id.product && (id.serial === undefined || d.serial === id.serial);
}

/**
 * Bus ids of the devices matching `id`, in a stable order. A device whose
 * sysfs entry has no `serial` (some hubs and containers hide it) while `id`
 * asks for one is asked through `readSerial` (libusb descriptors), by bus id.
 */
export async function resolveBusIds(root: string, id: UsbId, readSerial?: (busid: string) => Promise<string | undefined>): Promise<string[]> {
  const out: string[] = [];
  for (const d of await listUsbDevices(root)) {
    if (matches(id, d)) out.push(d.busid);
    else if (readSerial && id.serial !== undefined && d.serial === undefined && d.vendor === id.vendor && d.product === id.product && (await readSerial(d.busid)) === id.serial) out.push(d.busid);
  }
  return out;
}

/**
 * What usbip-host says about a bound device (`usbip_status`, present only
 * while usbip-host drives it): 1 available, 2 used (a client attached it),
 * 3 error — the kernel's `enum usbip_device_status`.
 */
export async function usbipStatus(root: string, busid: string): Promise<"available" | "used" | "error" | undefined> {
  const v = await attr(join(root, busid), "usbip_status");
  return v === "1" ? "available" : v === "2" ? "used" : v === "3" ? "error" : undefined;
}

/**
 * The ttys of the device at `busid`: its interfaces (`<busid>:<config>.<n>`)
 * hold them as `ttyUSB0` (usb-serial) or `tty/ttyACM0` (cdc-acm). Together
 * with busidOf (libusb's bus + port path → bus id) this is the map USB
 * device ↔ bus id ↔ tty that consoles and ACLs re-resolve on every hotplug
 * event: a board that re-enumerates keeps its port path but may get a new
 * tty name.
 */
export async function ttysOf(root: string, busid: string): Promise<string[]> {
  if (!BUSID.test(busid)) return [];
  const out: string[] = [];
  const names = await readdir(root).catch(() => [] as string[]);
  for (const iface of names.filter((n) => n.startsWith(`${busid}:`))) {
    const entries = await readdir(join(root, iface)).catch(() => [] as string[]);
    for (const e of entries) {
      if (/^tty(USB|ACM|S)\d+$/.test(e)) out.push(e);
      else if (e === "tty") out.push(...(await readdir(join(root, iface, "tty")).catch(() => [] as string[])).filter((t) => /^tty\w+$/.test(t)));
    }
  }
  return out.sort();
}

/** The bus id of the USB device a tty belongs to (`ttyACM0` → `1-2.3`), or undefined when it is not a USB tty here. */
export async function busidOfTty(root: string, tty: string): Promise<string | undefined> {
  for (const d of await listUsbDevices(root)) if ((await ttysOf(root, d.busid)).includes(tty)) return d.busid;
  return undefined;
}
