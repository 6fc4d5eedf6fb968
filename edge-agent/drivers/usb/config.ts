import { z } from "zod";
import { usbIdSchema } from "./device-id.ts";

const deviceSchema = z.union([
  usbIdSchema.transform((id) => ({ id, name: id.text })),
  z.strictObject({ id: usbIdSchema, name: z.string().min(1).max(64).optional() }).transform((d) => ({ id: d.id, name: d.name ?? d.id.text })),
]);

/** USB devices handed to the holder over usbip (the agent's own file). */
export const usbConfigSchema = z.strictObject({
  devices: z.array(deviceSchema).min(1),
  /** Where the kernel lists USB devices; a fake tree in tests. */
  sysfsRoot: z.string().default("/sys/bus/usb/devices"),
  /** For the usbipd presence check. */
  procRoot: z.string().default("/proc"),
  usbip: z.string().min(1).default("usbip"),
  /** How often to look for re-enumerated devices (a board in DFU mode comes back on another bus id). */
  pollMs: z.number().int().min(50).default(1000),
  timeoutMs: z.number().int().positive().default(15_000),
});

export type UsbConfig = z.infer<typeof usbConfigSchema>;
export type UsbConfigInput = z.input<typeof usbConfigSchema>;
