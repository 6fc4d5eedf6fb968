import { z } from "zod";

/** "vendor:product[:serial]" in hex as lsusb prints it, e.g. "0483:df11" or "1d50:6018:7ABC1234". */
export const usbIdSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}(:[A-Za-z0-9._-]{1,126})?$/, 'a USB id "vendor:product" or "vendor:product:serial" (hex ids)')
  .transform((s): UsbId => {
    const [vendor, product, ...rest] = s.split(":");
    const serial = rest.join(":");
    return { text: s, vendor: vendor!.toLowerCase(), product: product!.toLowerCase(), ...(serial ? { serial } : {}) };
  });

export interface UsbId {
  text: string;
  vendor: string;
  product: string;
  serial?: string;
}

/** A bus id as the kernel names USB devices (not interfaces): "1-1", "3-1.4.2". */
export const BUSID = /^\d+-\d+(\.\d+)*$/;
