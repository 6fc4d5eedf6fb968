/**
 * USB attach/detach events, so a device that re-enumerates (a board reset,
 * a switch into DFU mode) is found again at once instead of at the next
 * poll. The real source is the `usb` package (libusb.ts); a host without a
 * USB bus, or whose libusb has no hotplug, falls back to polling. Tests use
 * a stand-in source behind this same interface. The access driver uses
 * the same events.
 */
export interface HotplugSource {
  readonly kind: string;
  /** Calls `changed` on every attach or detach; returns the unsubscribe. */
  subscribe(changed: () => void): () => void;
}

/** Every `ms` milliseconds: what a host without hotplug events gets, and everybody's safety net. */
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
