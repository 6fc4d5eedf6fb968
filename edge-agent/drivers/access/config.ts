import { z } from "zod";
import { durationSchema } from "../../../calendar/duration.ts";
import { usbIdSchema } from "../usb/device-id.ts";

/**
 * A board's device nodes on a shared host, given to the holder's unix
 * logins with POSIX ACLs for the booking (the agent's own file):
 *
 *   access:
 *     devices:
 *       - path: /dev/serial/by-id/usb-FTDI_FT232R_A10K-if00-port0   # a fixed node (symlinks resolved)
 *       - usb: "0483:df11"            # every node of matching USB devices: /dev/bus/usb/BBB/DDD and their ttys
 */
/** An id as written ("0483:df11"), or as this schema already made it (the agent validates its file before building drivers). */
const usbId = z.union([usbIdSchema, z.strictObject({ text: z.string(), vendor: z.string(), product: z.string(), serial: z.string().optional() })]);

const deviceSchema = z.union([
  z.strictObject({ path: z.string().regex(/^\//, "an absolute path") }),
  z.strictObject({ usb: usbId }),
]);

export const accessConfigSchema = z.strictObject({
  devices: z.array(deviceSchema).min(1),
  /** sysfs and /dev; fake trees in tests. */
  sysfsRoot: z.string().default("/sys"),
  devRoot: z.string().default("/dev"),
  setfacl: z.string().min(1).default("setfacl"),
  getfacl: z.string().min(1).default("getfacl"),
  /**
   * How often nodes are looked up again while a booking runs. USB hotplug
   * events (the `usb` package) find a re-enumerated device at once; this poll
   * is the safety net for what they miss.
   */
  pollInterval: durationSchema({ min: 0.05 }).default("5s"),
});

export type AccessConfig = z.infer<typeof accessConfigSchema>;
export type AccessConfigInput = z.input<typeof accessConfigSchema>;
export type AccessDevice = AccessConfig["devices"][number];
