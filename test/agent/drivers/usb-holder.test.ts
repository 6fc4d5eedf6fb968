import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createUsbDriver, parseUsbConfig, rulesetText, busidOf, busidOfTty, listLibusbDevices, resolveBusIds, ttysOf, usbipStatus, type UsbConfigInput } from "../../../edge-agent/drivers/usb/index.ts";
import type { HotplugSource } from "../../../edge-agent/drivers/usb/hotplug.ts";
import { sshArgs } from "../../../edge-agent/drivers/usb/ssh-tunnel.ts";
import { decodeStringDescriptor, serialAt } from "../../../edge-agent/drivers/usb/libusb.ts";
import { checkedIn, liveUsageOf } from "../../../worker/usage/live.ts";
import { tempDir } from "../../services/process.ts";
import { entry, testContext } from "./helpers.ts";

/**
 * The usb driver's holder-only fence and its use of the `usb` package,
 * without root: nft is a STAND-IN script here that records what it was
 * given (the real nft runs in test/netns/usbip-holder.test.ts), usbip the
 * stand-in of test/stand-ins, sysfs a fake tree, and USB hotplug a STAND-IN
 * event source behind the driver's HotplugSource interface.
 */
const standin = resolve(import.meta.dirname, "../../stand-ins/usbip");
let dir: string;
let sysfs: string;
let proc: string;
let log: string;
let nft: string;

beforeAll(async () => {
  dir = await tempDir("usb-holder");
  nft = join(dir, "nft");
  // STAND-IN for nft: records the call and the ruleset file it was given; fails when told to.
  await writeFile(nft, `#!/bin/bash\nprintf 'nft' >> "$STANDIN_LOG"; for a in "$@"; do printf '\\t%s' "$a" >> "$STANDIN_LOG"; done; echo >> "$STANDIN_LOG"\n[ -e "${dir}/nft-fails" ] && { echo "Error: Could not process rule: Operation not permitted" >&2; exit 1; }\n[ "$1" = "-f" ] && cat "$2" >> "${dir}/rulesets"\nexit 0\n`);
  await chmod(nft, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  for (const f of ["sys", "proc", "state", "rulesets", "nft-fails"]) await rm(join(dir, f), { recursive: true, force: true });
  sysfs = join(dir, "sys", "bus", "usb", "devices");
  proc = join(dir, "proc");
  await plug("1-2", "0483", "df11", "BOARD42");
  await mkdir(join(proc, "4242"), { recursive: true });
  await writeFile(join(proc, "4242", "comm"), "usbipd\n");
  await mkdir(join(dir, "state"));
  log = join(dir, "state", "log");
  process.env.STANDIN_LOG = log;
  process.env.STANDIN_USBIP_STATE = join(dir, "state");
});

async function plug(busid: string, vendor: string, product: string, serial?: string) {
  const d = join(sysfs, busid);
  await mkdir(d, { recursive: true });
  await writeFile(join(d, "idVendor"), vendor + "\n");
  await writeFile(join(d, "idProduct"), product + "\n");
  if (serial) await writeFile(join(d, "serial"), serial + "\n");
}
const calls = async () => (await readFile(log, "utf8").catch(() => "")).split("\n").filter(Boolean).map((l) => l.split("\t").join(" ").replace(/ \S*labhog-nft-[^/]+\//, " TMP/"));
const rulesets = () => readFile(join(dir, "rulesets"), "utf8").catch(() => "");

/** STAND-IN hotplug source: the test fires attach/detach events by hand. */
function standInHotplug() {
  const listeners = new Set<() => void>();
  const source: HotplugSource = { kind: "stand-in", subscribe: (f) => (listeners.add(f), () => listeners.delete(f)) };
  return { source, fire: () => listeners.forEach((f) => f()), listeners };
}

function config(over: Partial<UsbConfigInput> = {}): UsbConfigInput {
  return { devices: [{ id: "0483:df11:BOARD42", name: "dfu" }], sysfsRoot: sysfs, procRoot: proc, usbip: standin, pollMs: 3_600_000, holderOnly: { nft }, ...over };
}

describe("the nftables ruleset", () => {
  it("refuses the port from the network and lets through on lo only the given uids (sorted, once each)", () => {
    expect(rulesetText({ port: 3240, uids: [62002, 1000, 62002] })).toBe(
      [
        "table inet labhog_usbip {}",
        "delete table inet labhog_usbip",
        "table inet labhog_usbip {",
        "  chain from_network {",
        "    type filter hook input priority filter - 10; policy accept;",
        '    iifname != "lo" tcp dport 3240 counter reject with tcp reset',
        "  }",
        "  chain from_this_host {",
        "    type filter hook output priority filter - 10; policy accept;",
        '    oifname "lo" tcp dport 3240 meta skuid != { 1000, 62002 } counter reject with tcp reset',
        "  }",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("with no uid, nobody gets through; several resources' holders share one table", () => {
    expect(rulesetText({ port: 3240, uids: [] })).toContain('    oifname "lo" tcp dport 3240 counter reject with tcp reset\n');
    expect(rulesetText([{ port: 3240, uids: [1001] }, { port: 3240, uids: [1002] }])).toContain("meta skuid != { 1001, 1002 }");
  });

  it("only numbers reach nft", () => {
    expect(() => rulesetText({ port: 3240, uids: [-1] })).toThrow("bad uid -1");
    expect(() => rulesetText({ port: 3240, uids: [1.5] })).toThrow("bad uid 1.5");
    expect(() => rulesetText({ port: 0, uids: [] })).toThrow("bad usbipd port 0");
  });
});

describe("usb config", () => {
  it("parses again what it parsed (the agent validates its file, then the driver parses its block)", () => {
    const once = parseUsbConfig({ devices: ["0483:df11", { id: "1d50:6018:7ABC", name: "probe" }] });
    expect(parseUsbConfig(once)).toEqual(once);
    expect(once.holderOnly).toEqual({ port: 3240, nft: "nft", getent: "getent" });
    expect(once.devices.map((d) => d.name)).toEqual(["0483:df11", "probe"]);
  });
});

describe("usb driver: holder-only usbipd", () => {
  it("puts the table in place for the holder's uids before binding, and removes it after unbinding", async () => {
    const { ctx, deps, events } = testContext();
    const drv = createUsbDriver(config(), { ...deps, hotplug: standInHotplug().source });
    // root is uid 0 on every machine (getent, the real one, looks it up).
    await drv.apply(entry({ holder: { id: "admin", unix: ["root"], keys: [] } }), ctx);
    await drv.release(ctx);
    expect(await calls()).toEqual(["nft -f TMP/usbip.nft", "usbip bind -b 1-2", "usbip unbind -b 1-2", "nft -f TMP/usbip.nft"]);
    const texts = await rulesets();
    expect(texts).toContain(`oifname "lo" tcp dport 3240 meta skuid != { 0 } counter reject with tcp reset`);
    expect(texts.endsWith("table inet labhog_usbip {}\ndelete table inet labhog_usbip\n")).toBe(true);
    expect(events.filter((e) => !e.ok)).toEqual([]);
    expect(events.map((e) => e.message)).toContain("usbipd (port 3240) reachable only by root through lo (an SSH tunnel)");
  });

  it("fails closed: when nft fails, nothing is bound and apply fails saying why", async () => {
    await writeFile(join(dir, "nft-fails"), "");
    const { ctx, deps, events } = testContext();
    const drv = createUsbDriver(config(), { ...deps, hotplug: standInHotplug().source });
    await expect(drv.apply(entry({ holder: { id: "admin", unix: ["root"], keys: [] } }), ctx)).rejects.toThrow(/cannot restrict usbipd to the holder \(nftables\): .*Operation not permitted/);
    expect(await calls()).toEqual(["nft -f TMP/usbip.nft"]);
    expect(drv.problems!()).toEqual([expect.stringMatching(/^cannot restrict usbipd to the holder/)]);
    expect(events.filter((e) => !e.ok).map((e) => e.action)).toEqual(["usb-firewall"]);
  });

  it("a holder without a login here: nobody is let through, and the driver says so", async () => {
    const { ctx, deps } = testContext();
    const drv = createUsbDriver(config(), { ...deps, hotplug: standInHotplug().source });
    await drv.apply(entry({ holder: { id: "zoe", unix: ["zoe-not-here"], keys: [] } }), ctx);
    expect(await rulesets()).toContain('    oifname "lo" tcp dport 3240 counter reject with tcp reset\n');
    expect(drv.problems!()).toEqual(["zoe-not-here: no such login on this host, not let through to usbipd"]);
    await drv.release(ctx);
    expect(drv.problems!()).toEqual([]);
  });

  it("simulation runs neither nft nor usbip", async () => {
    const { ctx, deps, events } = testContext("board1", true);
    const drv = createUsbDriver(config(), { ...deps, simulate: true, hotplug: standInHotplug().source });
    await drv.apply(entry({ holder: { id: "admin", unix: ["root"], keys: [] } }), ctx);
    await drv.release(ctx);
    expect(await calls()).toEqual([]);
    expect(events[0]!.message).toBe("simulate: would let uids 0 reach usbipd on port 3240 through lo, nobody from the network");
  });
});

describe("usb driver: hotplug events drive re-resolution", () => {
  it("a STAND-IN attach event after re-enumeration binds the device on its new bus id at once (the poll is an hour away)", async () => {
    const hp = standInHotplug();
    const { ctx, deps } = testContext();
    const drv = createUsbDriver(config({ holderOnly: false }), { ...deps, hotplug: hp.source });
    await drv.apply(entry(), ctx);
    expect(hp.listeners.size).toBe(1);
    await rename(join(sysfs, "1-2"), join(sysfs, "1-4.1"));
    hp.fire();
    // The event queued a look on the driver's own queue (poll() would look by itself, so it is not called here).
    for (const deadline = Date.now() + 10_000; (await calls()).length < 3 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    expect(await calls()).toEqual(["usbip bind -b 1-2", "usbip unbind -b 1-2", "usbip bind -b 1-4.1"]);
    await drv.release(ctx);
    expect(hp.listeners.size).toBe(0);
  });

  it("without an event nothing is looked at before the poll", async () => {
    const hp = standInHotplug();
    const { ctx, deps } = testContext();
    const drv = createUsbDriver(config({ holderOnly: false }), { ...deps, hotplug: hp.source });
    await drv.apply(entry(), ctx);
    await rename(join(sysfs, "1-2"), join(sysfs, "1-4.1"));
    await new Promise((r) => setTimeout(r, 200));
    expect(await calls()).toEqual(["usbip bind -b 1-2"]);
    await drv.release(ctx);
  });
});

describe("attached devices count as check-in", () => {
  it("usbip_status 2 (used) is reported as attached, and the Worker's check-in rule counts it", async () => {
    const { ctx, deps } = testContext();
    const drv = createUsbDriver(config({ holderOnly: false }), { ...deps, hotplug: standInHotplug().source });
    await drv.apply(entry(), ctx);
    await writeFile(join(sysfs, "1-2", "usbip_status"), "1\n");
    const before = await drv.collect();
    expect(before.devices).toEqual([{ name: "dfu", id: "0483:df11:BOARD42", present: true, busid: "1-2", exported: true, attached: false }]);
    await writeFile(join(sysfs, "1-2", "usbip_status"), "2\n");
    const after = await drv.collect();
    expect(after.devices).toEqual([{ name: "dfu", id: "0483:df11:BOARD42", present: true, busid: "1-2", exported: true, attached: true }]);
    // What the agent publishes for the resource, read by the Worker as it does for no-shows.
    const report = { agent: "host1", at: new Date().toISOString(), resources: { board1: { at: new Date().toISOString(), sessions: [], usb: after } } };
    expect(checkedIn(liveUsageOf(report, "board1")!, ["bob"])).toBe(true);
    expect(checkedIn(liveUsageOf({ ...report, resources: { board1: { ...report.resources.board1, usb: before } } }, "board1")!, ["bob"])).toBe(false);
    await drv.release(ctx);
  });

  it("usbipStatus reads the kernel's values", async () => {
    expect(await usbipStatus(sysfs, "1-2")).toBeUndefined(); // not bound to usbip-host: no attribute
    for (const [v, s] of [["1", "available"], ["2", "used"], ["3", "error"]] as const) {
      await writeFile(join(sysfs, "1-2", "usbip_status"), v + "\n");
      expect(await usbipStatus(sysfs, "1-2")).toBe(s);
    }
  });
});

describe("the usb package", () => {
  it("smoke: the real module loads and lists devices (this machine has no USB bus: an empty list)", async () => {
    const list = await listLibusbDevices();
    expect(Array.isArray(list)).toBe(true);
    if (!existsSync("/sys/bus/usb/devices")) expect(list).toEqual([]);
    for (const d of list) expect(d.busid).toMatch(/^\d+-\d+(\.\d+)*$/);
  });

  it("port path ↔ bus id: libusb's bus and ports name the kernel's device", () => {
    expect(busidOf("001", [2, 3])).toBe("1-2.3");
    expect(busidOf(3, [1])).toBe("3-1");
    expect(busidOf(1, [])).toBeUndefined(); // a root hub
    expect(busidOf("x", [1])).toBeUndefined();
  });

  it("bus id ↔ tty through sysfs: cdc-acm (tty/ttyACM*) and usb-serial (ttyUSB*) interfaces; a hub port's neighbour is not mixed in", async () => {
    await mkdir(join(sysfs, "1-2:1.0", "tty", "ttyACM3"), { recursive: true });
    await mkdir(join(sysfs, "1-2:1.2"), { recursive: true });
    await writeFile(join(sysfs, "1-2:1.2", "bInterfaceNumber"), "02\n");
    await plug("1-2.1", "0403", "6001");
    await mkdir(join(sysfs, "1-2.1:1.0", "ttyUSB0"), { recursive: true });
    expect(await ttysOf(sysfs, "1-2")).toEqual(["ttyACM3"]);
    expect(await ttysOf(sysfs, "1-2.1")).toEqual(["ttyUSB0"]);
    expect(await busidOfTty(sysfs, "ttyUSB0")).toBe("1-2.1");
    expect(await busidOfTty(sysfs, "ttyACM3")).toBe("1-2");
    expect(await busidOfTty(sysfs, "ttyS0")).toBeUndefined();
    // libusb's view of the same device: bus 1, ports [2, 1].
    expect(busidOf("001", [2, 1])).toBe("1-2.1");
  });

  it("a serial nobody cached is read from the device's descriptors (a STAND-IN device answering control transfers)", async () => {
    const transfers: string[] = [];
    const bytes = (...b: number[]) => new DataView(new Uint8Array(b).buffer);
    const utf16 = (t: string) => [...t].flatMap((c) => [c.charCodeAt(0), 0]);
    const device = {
      bus: "001",
      ports: [2],
      vendorId: 0x0483,
      productId: 0xdf11,
      serialNumber: null,
      open: async () => void transfers.push("open"),
      close: async () => void transfers.push("close"),
      controlTransferIn: async (setup: { request: number; value: number; index: number }, length: number) => {
        transfers.push(`GET_DESCRIPTOR ${setup.value.toString(16)} ${setup.index.toString(16)} ${length}`);
        if (setup.value === 0x0100) return { data: bytes(18, 1, 0, 2, 0, 0, 0, 64, 0x83, 0x04, 0x11, 0xdf, 0, 1, 1, 2, 3, 1) };
        if (setup.value === 0x0300) return { data: bytes(4, 3, 0x09, 0x04) };
        if (setup.value === 0x0303 && setup.index === 0x0409) return { data: bytes(2 + 14, 3, ...utf16("BOARD42")) };
        return { data: undefined };
      },
    };
    const mod = { getDevices: async () => [device] } as never;
    expect(await serialAt("1-2", mod)).toBe("BOARD42");
    expect(transfers).toEqual(["open", "GET_DESCRIPTOR 100 0 18", "GET_DESCRIPTOR 300 0 255", "GET_DESCRIPTOR 303 409 255", "close"]);
    expect(await serialAt("1-3", mod)).toBeUndefined(); // no device at that port path
    expect(decodeStringDescriptor(bytes(6, 2, 65, 0, 66, 0))).toBeUndefined(); // not a string descriptor
  });

  it("a serial sysfs lacks is read through the descriptor reader, by bus id", async () => {
    await plug("2-1", "0483", "df11"); // no serial attribute
    const asked: string[] = [];
    const read = async (b: string) => (asked.push(b), b === "2-1" ? "HIDDEN7" : undefined);
    const id = { text: "0483:df11:HIDDEN7", vendor: "0483", product: "df11", serial: "HIDDEN7" };
    expect(await resolveBusIds(sysfs, id, read)).toEqual(["2-1"]);
    expect(asked).toEqual(["2-1"]); // 1-2 shows its serial in sysfs: not asked
    expect(await resolveBusIds(sysfs, { ...id, serial: "BOARD42", text: "0483:df11:BOARD42" }, read)).toEqual(["1-2"]);
  });
});

describe("the SSH tunnel's command line", () => {
  it("forwards a local port to usbipd on the host's lo, as the login, never taking a host or login as an option", () => {
    expect(sshArgs({ host: "build2.lab", login: "bob", sshPort: 2222, remotePort: 3240, say: () => {} }, 40000)).toEqual([
      "-N", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=15",
      "-L", "127.0.0.1:40000:127.0.0.1:3240", "-p", "2222", "-l", "bob", "--", "build2.lab",
    ]);
    expect(() => sshArgs({ host: "-oProxyCommand=x", remotePort: 3240, say: () => {} }, 1)).toThrow("bad host");
    expect(() => sshArgs({ host: "h", login: "-x", remotePort: 3240, say: () => {} }, 1)).toThrow("bad login");
  });
});
