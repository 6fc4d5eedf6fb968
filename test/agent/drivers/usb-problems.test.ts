import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { createUsbDriver } from "../../../edge-agent/drivers/usb/index.ts";
import { tempDir } from "../../services/process.ts";
import { entry, testContext } from "./helpers.ts";

/**
 * The usb driver reports a failing device once (so a device that keeps failing
 * does not flood the events), which is why it must list it in problems():
 * otherwise the agent's silent retry would read as a success. usbip here is a
 * STAND-IN wrapper that fails until the test creates a flag file, then runs the
 * usbip stand-in of test/stand-ins.
 */
const standin = resolve(import.meta.dirname, "../../stand-ins/usbip");

describe("usb driver problems()", () => {
  it("lists a failing bind while it keeps failing silently, and nothing once it is bound", async () => {
    const dir = await tempDir("usb-problems");
    const sysfs = join(dir, "sys", "bus", "usb", "devices");
    const proc = join(dir, "proc");
    await mkdir(join(sysfs, "1-1.2"), { recursive: true });
    await writeFile(join(sysfs, "1-1.2", "idVendor"), "0483\n");
    await writeFile(join(sysfs, "1-1.2", "idProduct"), "df11\n");
    await mkdir(join(proc, "4242"), { recursive: true });
    await writeFile(join(proc, "4242", "comm"), "usbipd\n");
    await mkdir(join(dir, "state"));
    const flag = join(dir, "works");
    const wrapper = join(dir, "usbip");
    await writeFile(
      wrapper,
      `#!/bin/sh
# STAND-IN: a usbip that fails until ${flag} exists.
[ -e ${JSON.stringify(flag)} ] || { echo "usbip: error: could not open usbip-host driver" >&2; exit 1; }
STANDIN_LOG=${JSON.stringify(join(dir, "log"))} STANDIN_USBIP_STATE=${JSON.stringify(join(dir, "state"))} exec ${JSON.stringify(standin)} "$@"
`,
    );
    await chmod(wrapper, 0o755);
    const { ctx, deps, events } = testContext();
    const drv = createUsbDriver({ devices: [{ id: "0483:df11", name: "dfu" }], sysfsRoot: sysfs, procRoot: proc, pollMs: 60_000, usbip: wrapper, holderOnly: false }, deps);
    expect(drv.problems!()).toEqual([]);

    await drv.apply(entry(), ctx);
    const failed = events.filter((e) => !e.ok);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.message).toMatch(/^dfu: bind 1-1\.2 failed: .*could not open usbip-host driver/);
    const listed = drv.problems!();
    expect(listed).toEqual([failed[0]!.message]);

    // The retry fails the same way and says nothing: only problems() tells.
    await drv.apply(entry(), ctx);
    expect(events.filter((e) => !e.ok)).toHaveLength(1);
    expect(drv.problems!()).toEqual(listed);

    await writeFile(flag, "");
    await drv.apply(entry(), ctx);
    expect(events.at(-1)).toMatchObject({ ok: true, message: "dfu: bound on 1-1.2" });
    expect(drv.problems!()).toEqual([]);

    // Released: nothing is expected to be in place, nothing to report.
    await drv.release(ctx);
    expect(drv.problems!()).toEqual([]);
  });
});
