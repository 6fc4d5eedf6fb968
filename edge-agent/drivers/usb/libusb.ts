import type { HotplugSource } from "./hotplug.ts";
import { BUSID } from "./device-id.ts";

/**
 * The `usb` package (version 3: the nusb crate through napi-rs, with the
 * WebUSB API; "libusb" here for short), where it helps: attach/detach
 * events, and a device's descriptors (its serial number) when sysfs does not
 * have them. sysfs stays the truth for bus ids and ttys; the two are joined
 * through the port path, which both name the same way: libusb's bus 1 and
 * ports [2, 3] are the kernel's `1-2.3`.
 *
 * The package is loaded lazily: a host without libusb support, or without
 * a USB bus at all (a container, a VM, this CI machine), gets `undefined`
 * or an empty list, never a crash.
 */
type UsbModule = (typeof import("usb"))["usb"];

async function load(): Promise<UsbModule | undefined> {
  try {
    return (await import("usb")).usb;
  } catch {
    return undefined;
  }
}

/** The kernel's bus id of a device libusb names by bus and port path; undefined for a root hub (no ports). */
export function busidOf(bus: string | number, ports: readonly number[]): string | undefined {
  const n = Number(bus);
  if (!Number.isInteger(n) || n < 1 || ports.length === 0) return undefined;
  const id = `${n}-${ports.join(".")}`;
  return BUSID.test(id) ? id : undefined;
}

export interface LibusbDevice {
  busid: string;
  vendor: string;
  product: string;
  serial?: string;
}

const hex4 = (n: number) => n.toString(16).padStart(4, "0");

/** libusb says this when there is no USB bus to list (no /sys/bus/usb/devices). */
const NO_BUS = /\/sys\/bus\/usb\/devices\/? not found/;

/**
 * Every USB device libusb sees, named by bus id. No bus here: an empty list.
 * Any other failure (libusb broken, permissions) is thrown: the caller decides.
 */
export async function listLibusbDevices(mod?: UsbModule): Promise<LibusbDevice[]> {
  const usb = mod ?? (await load());
  if (!usb) return [];
  let devices;
  try {
    devices = await usb.getDevices();
  } catch (e) {
    if (NO_BUS.test((e as Error).message)) return [];
    throw e;
  }
  const out: LibusbDevice[] = [];
  for (const d of devices) {
    const busid = busidOf(d.bus, d.ports);
    if (!busid) continue;
    // serialNumber is what enumeration cached (sysfs on Linux); serialAt reads the descriptor when it is missing.
    let serial: string | null = null;
    try {
      serial = d.serialNumber;
    } catch {
      serial = null;
    }
    out.push({ busid, vendor: hex4(d.vendorId), product: hex4(d.productId), ...(serial ? { serial } : {}) });
  }
  return out.sort((a, b) => a.busid.localeCompare(b.busid));
}

/** A USB string descriptor (bLength, bDescriptorType 3, UTF-16LE text) as text; undefined when it is not one. */
export function decodeStringDescriptor(data: DataView | undefined): string | undefined {
  if (!data || data.byteLength < 2) return undefined;
  const length = Math.min(data.getUint8(0), data.byteLength);
  if (data.getUint8(1) !== 3 || length < 2) return undefined;
  let out = "";
  for (let i = 2; i + 1 < length; i += 2) out += String.fromCharCode(data.getUint16(i, true));
  return out;
}

type Device = Awaited<ReturnType<UsbModule["getDevices"]>>[number];
/** The WebUSB calls the package adds to its devices (its d.ts leaves them to the w3c-web-usb types). */
export interface DescriptorDevice {
  open(): Promise<void>;
  close(): Promise<void>;
  controlTransferIn(setup: { requestType: "standard"; recipient: "device"; request: number; value: number; index: number }, length: number): Promise<{ data?: DataView }>;
}
const GET_DESCRIPTOR = 6;

/**
 * The serial number straight from the device: its device descriptor names
 * the string (iSerialNumber), read in the device's first language. Only
 * control transfers on endpoint 0, no interface is claimed, so a device a
 * kernel driver (or usbip-host) holds is not disturbed.
 */
export async function readSerialDescriptor(d: DescriptorDevice): Promise<string | undefined> {
  const get = (value: number, index: number, length: number) =>
    d.controlTransferIn({ requestType: "standard", recipient: "device", request: GET_DESCRIPTOR, value, index }, length).then((r) => r.data);
  await d.open();
  try {
    const device = await get(0x0100, 0, 18);
    const iSerial = device && device.byteLength >= 17 ? device.getUint8(16) : 0;
    if (!iSerial) return undefined;
    const langs = await get(0x0300, 0, 255);
    const lang = langs && langs.byteLength >= 4 ? langs.getUint16(2, true) : 0x0409;
    return decodeStringDescriptor(await get(0x0300 | iSerial, lang, 255)) || undefined;
  } finally {
    await d.close().catch(() => undefined);
  }
}

/**
 * The serial number of the device at `busid`, for when sysfs has no `serial`
 * attribute. The package's own `serialNumber` comes from the same place as
 * sysfs on Linux (nusb enumerates through sysfs), so when it has none the
 * descriptor is read from the device itself.
 */
export async function serialAt(busid: string, mod?: UsbModule): Promise<string | undefined> {
  const usb = mod ?? (await load());
  if (!usb) return undefined;
  const devices = await usb.getDevices().catch(() => [] as Device[]);
  const d = devices.find((x) => busidOf(x.bus, x.ports) === busid);
  if (!d) return undefined;
  try {
    return d.serialNumber || (await readSerialDescriptor(d as unknown as DescriptorDevice));
  } catch {
    return undefined;
  }
}

/**
 * libusb attach/detach events, or undefined when libusb can't list devices
 * here. The probe matters: the package starts its event thread with an
 * unguarded device listing, and where that listing fails (no USB bus) the
 * failure surfaces as an uncaught exception that would end the agent.
 */
export async function libusbHotplug(mod?: UsbModule): Promise<HotplugSource | undefined> {
  const usb = mod ?? (await load());
  if (!usb) return undefined;
  try {
    await usb.getDevices();
  } catch {
    return undefined;
  }
  return {
    kind: "usb",
    subscribe(changed) {
      const on = () => changed();
      usb.addEventListener("connect", on);
      usb.addEventListener("disconnect", on);
      return () => {
        usb.removeEventListener("connect", on);
        usb.removeEventListener("disconnect", on);
      };
    },
  };
}
