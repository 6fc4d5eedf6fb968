/**
 * Started by usbip-scenario.ts inside its namespaces: applies bob's booking
 * with the real usb driver (real nftables), prints the driver's state and
 * "APPLIED", then waits to be killed with SIGKILL (a crashed agent).
 */
import { createUsbDriver } from "../../edge-agent/drivers/usb/index.ts";
import { entry, testContext } from "../agent/drivers/helpers.ts";

const { ctx, deps } = testContext("board1");
const drv = createUsbDriver(
  { devices: [{ id: "0483:df11:BOARD42", name: "dfu" }], sysfsRoot: process.env.USBIP_SYSFS!, procRoot: process.env.USBIP_PROC!, pollMs: 3_600_000 },
  { ...deps, hotplug: { kind: "stand-in", subscribe: () => () => {} } },
);
await drv.apply(entry({ id: "r-bob", holder: { id: "bob", unix: ["bob"], keys: [] } }), ctx);
process.stdout.write(JSON.stringify(drv.state!()) + "\nAPPLIED\n");
setInterval(() => {}, 60_000);
