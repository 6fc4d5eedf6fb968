import { z } from "zod";

/**
 * A board's serial console, served to the holder through the Worker (the
 * agent's own file):
 *
 *   console:
 *     byId: usb-FTDI_FT232R_USB_UART_A10K-if00-port0   # /dev/serial/by-id/<byId>, stable across re-plugging
 *     # or path: /dev/ttyUSB0
 *     baudRate: 1500000
 *     dataBits: 8, parity: none, stopBits: 1          # the defaults
 *     logMaxBytes: 1048576                              # per reservation; the oldest part is dropped beyond it
 */
export const consoleConfigSchema = z
  .strictObject({
    path: z.string().regex(/^\//, "an absolute path").optional(),
    byId: z.string().regex(/^[A-Za-z0-9._:+-]+$/, "a name under /dev/serial/by-id").optional(),
    baudRate: z.number().int().positive().default(115_200),
    dataBits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)]).default(8),
    parity: z.enum(["none", "even", "odd", "mark", "space"]).default("none"),
    stopBits: z.union([z.literal(1), z.literal(1.5), z.literal(2)]).default(1),
    /** Bound of one reservation's log file. */
    logMaxBytes: z.number().int().min(4096).max(64 * 1024 * 1024).default(1024 * 1024),
    /** Logs of this many past reservations are kept per resource. */
    keepLogs: z.number().int().min(1).max(1000).default(20),
    /** Where by-id names live (a fake tree in tests). */
    byIdDir: z.string().regex(/^\//).default("/dev/serial/by-id"),
  })
  .refine((c) => (c.path === undefined) !== (c.byId === undefined), "give exactly one of path or byId");

export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;
export type ConsoleConfigInput = z.input<typeof consoleConfigSchema>;

export const devicePathOf = (c: ConsoleConfig): string => c.path ?? `${c.byIdDir}/${c.byId}`;
