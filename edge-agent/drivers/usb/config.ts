import { z } from "zod";
import { usbIdSchema } from "./device-id.ts";

/** An id as this schema already made it: the agent validates its whole file before it builds the drivers, which parse again. */
const parsedId = z.strictObject({ text: z.string(), vendor: z.string(), product: z.string(), serial: z.string().optional() });

const deviceSchema = z.union([
  usbIdSchema.transform((id) => ({ id, name: id.text })),
  z.strictObject({ id: usbIdSchema, name: z.string().min(1).max(64).optional() }).transform((d) => ({ id: d.id, name: d.name ?? d.id.text })),
  z.strictObject({ id: parsedId, name: z.string().min(1).max(64) }),
]);

/** USB devices handed to the holder over usbip (the agent's own file). */
export const usbConfigSchema = z.strictObject({
  devices: z.array(deviceSchema).min(1),
  /** Where the kernel lists USB devices; a fake tree in tests. */
  sysfsRoot: z.string().default("/sys/bus/usb/devices"),
  /** For the usbipd presence check. */
  procRoot: z.string().default("/proc"),
  usbip: z.string().min(1).default("usbip"),
  /**
   * How often to look for re-enumerated devices (a board in DFU mode comes
   * back on another bus id) when no USB event said so: libusb attach/detach
   * events trigger a look at once, this poll is the safety net.
   */
  pollMs: z.number().int().min(50).default(5000),
  timeoutMs: z.number().int().positive().default(15_000),
  /**
   * Who may attach (usbipd itself lets anyone who reaches its port): by
   * default only the holder, through an SSH tunnel to this host that
   * `labhog attach` opens (nftables, see firewall.ts and docs/security.md).
   * `false` leaves usbipd open to whoever reaches the port: only for a
   * network the admin fences off some other way.
   */
  holderOnly: z
    .union([
      z.literal(false),
      z.strictObject({
        /** usbipd's TCP port (its --tcp-port). */
        port: z.number().int().min(1).max(65_535).default(3240),
        nft: z.string().min(1).default("nft"),
        getent: z.string().min(1).default("getent"),
      }),
    ])
    .default({ port: 3240, nft: "nft", getent: "getent" }),
});

export type UsbConfig = z.infer<typeof usbConfigSchema>;
export type UsbConfigInput = z.input<typeof usbConfigSchema>;
