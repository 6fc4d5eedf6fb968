import { parseArgs } from "node:util";
import { createLogger } from "../log.ts";
import { execFileArgs } from "../drivers/deps.ts";
import { attachMissing, detachHost, keepAttached } from "../drivers/usb/attach-loop.ts";
import { Usbip } from "../drivers/usb/usbip.ts";
import { parseOptions, SPECS } from "./spec.ts";
import { parseDurationMs, tryParseDuration } from "../../calendar/duration.ts";

const USAGE = `usage: labhog attach <resource> --host <agent-host> [--device vvvv:pppp]... [--once] [--keep] [--interval 2s]

Attaches the USB devices the agent on <agent-host> exports for <resource> (usbip attach -r),
then keeps them attached: after a board reset or a switch into DFU mode the device comes
back on another bus id, and it is attached again. Ctrl-C detaches them (unless --keep).
The host can also come from LABHOG_USBIP_HOST. Needs the vhci-hcd module and root (or sudo).`;

/** `labhog attach <resource>`, on the holder's machine. Returns the exit code. */
export async function runAttach(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...parseOptions(SPECS.attach.options),
        usbip: { type: "string", default: process.env.LABHOG_USBIP ?? "usbip" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const resource = positionals[0];
  const host = values.host ?? process.env.LABHOG_USBIP_HOST;
  const interval = tryParseDuration(values.interval ?? "2s") === undefined ? NaN : parseDurationMs(values.interval ?? "2s");
  const ids = (values.device ?? []).map((d) => d.toLowerCase());
  const bad = ids.find((d) => !/^[0-9a-f]{4}:[0-9a-f]{4}$/.test(d));
  if (!resource || positionals.length > 1 || !host || !Number.isFinite(interval) || interval < 100 || bad) {
    process.stderr.write(`${bad ? `bad --device ${bad}: want vvvv:pppp\n` : !host && resource ? "which host? give --host or LABHOG_USBIP_HOST\n" : ""}${USAGE}\n`);
    return 2;
  }
  const log = createLogger({ base: { cmd: "attach", resource } });
  const say = (l: string) => process.stdout.write(`${l}\n`);
  const usbip = new Usbip(execFileArgs, values.usbip);
  const opts = { host, ids, usbip, log, intervalMs: interval, say };
  try {
    if (values.once) {
      const r = await attachMissing(opts);
      if (r.wanted.length === 0) {
        process.stderr.write(`${host} exports no ${ids.length ? ids.join(", ") : "devices"} for ${resource} (is the reservation active?)\n`);
        return 1;
      }
      for (const f of r.failed) process.stderr.write(`attach failed: ${f}\n`);
      return r.failed.length > 0 ? 1 : 0;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      await keepAttached(opts, stop.signal);
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    if (!values.keep) await detachHost(usbip, host, say);
    return 0;
  } catch (e) {
    process.stderr.write(`labhog attach: ${(e as Error).message}\n`);
    return 1;
  }
}
