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

/** Bus ids of the devices matching `id`, in a stable order. */
export async function resolveBusIds(root: string, id: UsbId): Promise<string[]> {
  return (await listUsbDevices(root)).filter((d) => matches(id, d)).map((d) => d.busid);
}
