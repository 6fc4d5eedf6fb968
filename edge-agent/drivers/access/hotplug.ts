/**
 * The access driver follows the same USB attach/detach events as the usb
 * driver: one source (usb/hotplug.ts, usb/libusb.ts) for both.
 */
export { pollingHotplug, type HotplugSource } from "../usb/hotplug.ts";
export { libusbHotplug as usbHotplug } from "../usb/libusb.ts";
