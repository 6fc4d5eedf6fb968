/**
 * USB attach/detach events, so a device that re-enumerates (a board reset,
 * a switch into DFU mode) is given to the holder again at once instead of at
 * the next poll. The real source is the `usb` package (libusb hotplug); a
 * host whose libusb has no hotplug support, or no USB at all, falls back to
 * polling. Tests use a stand-in source behind this same interface.
 */
export interface HotplugSource {
  readonly kind: string;
  /** Calls `changed` on every attach or detach; returns the unsubscribe. */
  subscribe(changed: () => void): () => void;
}

/** libusb hotplug through the `usb` package, or undefined when it can't be had here. */
export async function usbHotplug(): Promise<HotplugSource | undefined> {
  let usb: (typeof import("usb"))["usb"];
  try {
    ({ usb } = await import("usb"));
    // No USB bus (a VM, a container): libusb fails on every look, so events would only ever be errors.
    await usb.getDevices();
  } catch {
    return undefined;
  }
  return {
    kind: "usb",
    subscribe(changed) {
      // usb 3 speaks WebUSB: connect/disconnect events for every device, whatever its vendor.
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

/** Every `ms` milliseconds: what a host without hotplug events gets. */
export function pollingHotplug(ms: number): HotplugSource {
  return {
    kind: "poll",
    subscribe(changed) {
      const t = setInterval(changed, ms);
      t.unref();
      return () => clearInterval(t);
    },
  };
}
