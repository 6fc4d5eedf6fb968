import { spawn } from "node:child_process";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { delimiter, join, resolve } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runAttach, usbTargetOf } from "../../../edge-agent/cli/attach.ts";
import { createLogger } from "../../../edge-agent/log.ts";
import { execFileArgs } from "../../../edge-agent/drivers/deps.ts";
import { detachHost, keepAttached } from "../../../edge-agent/drivers/usb/attach-loop.ts";
import { createUsbDriver, Usbip, type UsbConfigInput } from "../../../edge-agent/drivers/usb/index.ts";
import { tempDir } from "../../services/process.ts";
import { entry, testContext } from "./helpers.ts";

const standins = resolve(import.meta.dirname, "../../stand-ins");
let dir: string;
let fakeSysfs: string;
let fakeProc: string;
let state: string;
const savedPath = process.env.PATH;

beforeAll(async () => {
  dir = await tempDir("usbip");
  // The stand-in usbip is found on PATH, as the real one would be.
  process.env.PATH = `${standins}${delimiter}${savedPath}`;
  process.env.STANDIN_LOG = join(dir, "standin.log");
  process.env.STANDIN_USBIP_STATE = state = join(dir, "usbip-state");
});
afterAll(async () => {
  process.env.PATH = savedPath;
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await rm(join(dir, "standin.log"), { force: true });
  await rm(state, { recursive: true, force: true });
  await mkdir(state);
  fakeSysfs = join(dir, "fake-sysfs", "bus", "usb", "devices");
  await rm(join(dir, "fake-sysfs"), { recursive: true, force: true });
  // A root hub and an interface entry, which are not devices, and two devices.
  await plug("usb1", "1d6b", "0002");
  await plug("1-1.2", "0483", "df11", "3571A0B2");
  await plug("1-1.2:1.0", "0483", "df11");
  await plug("2-4", "046d", "c52b");
  fakeProc = join(dir, "fake-proc");
  await rm(fakeProc, { recursive: true, force: true });
  await mkdir(join(fakeProc, "4242"), { recursive: true });
  await writeFile(join(fakeProc, "4242", "comm"), "usbipd\n");
});

async function plug(busid: string, vendor: string, product: string, serial?: string) {
  const d = join(fakeSysfs, busid);
  await mkdir(d, { recursive: true });
  await writeFile(join(d, "idVendor"), vendor + "\n");
  await writeFile(join(d, "idProduct"), product + "\n");
  if (serial) await writeFile(join(d, "serial"), serial + "\n");
}

const calls = async () => (await readFile(join(dir, "standin.log"), "utf8").catch(() => "")).split("\n").filter(Boolean).map((l) => l.split("\t").join(" "));
const bound = async () => (await readFile(join(state, "bound"), "utf8").catch(() => "")).split("\n").filter(Boolean);

function config(over: Partial<UsbConfigInput> = {}): UsbConfigInput {
  // holderOnly off: these tests are about binding; the nftables fence has its own (usb-holder.test.ts, test/netns/usbip-scenario.ts).
  return { devices: [{ id: "0483:DF11:3571A0B2", name: "stm32-dfu" }], sysfsRoot: fakeSysfs, procRoot: fakeProc, pollMs: 60_000, holderOnly: false, ...over };
}

describe("usb driver through the stand-in usbip on PATH and a fake sysfs tree", () => {
  it("binds the device found by vendor:product:serial, re-binds it after it re-enumerates elsewhere, unbinds at the end", async () => {
    const { ctx, deps, events } = testContext();
    const drv = createUsbDriver(config(), deps);
    await drv.apply(entry(), ctx);
    expect(await calls()).toEqual(["usbip bind -b 1-1.2"]);
    expect(await bound()).toEqual(["1-1.2"]);
    await drv.apply(entry(), ctx); // idempotent: nothing new
    expect(await calls()).toEqual(["usbip bind -b 1-1.2"]);

    // The board resets into DFU and comes back on another port of the hub.
    await rename(join(fakeSysfs, "1-1.2"), join(fakeSysfs, "1-1.3"));
    await drv.poll(ctx);
    expect(await calls()).toEqual(["usbip bind -b 1-1.2", "usbip unbind -b 1-1.2", "usbip bind -b 1-1.3"]);
    expect(await bound()).toEqual(["1-1.3"]);
    expect(events.some((e) => e.message === "stm32-dfu: bound on 1-1.3 (moved from 1-1.2)")).toBe(true);

    // Gone for a while (mid re-enumeration), then back on the same bus id: bound again.
    await rm(join(fakeSysfs, "1-1.3"), { recursive: true });
    await drv.poll(ctx);
    expect(events.at(-1)?.message).toBe("stm32-dfu: gone from 1-1.3; waiting for it to come back");
    await plug("1-1.3", "0483", "df11", "3571A0B2");
    await drv.poll(ctx);
    expect((await calls()).slice(3)).toEqual(["usbip bind -b 1-1.3"]); // "already bound" counts as done
    expect(events.at(-1)?.message).toBe("stm32-dfu: already bound on 1-1.3");

    expect(await drv.collect()).toEqual({ devices: [{ name: "stm32-dfu", id: "0483:DF11:3571A0B2", present: true, busid: "1-1.3", exported: true, attached: false }], usbipd: true, holderOnly: false });

    // Crash: a new driver restored from the saved state unbinds at the end.
    const again = createUsbDriver(config(), deps);
    await again.restore!(JSON.parse(JSON.stringify(drv.state!())), ctx);
    await again.release(ctx);
    expect((await calls()).slice(4)).toEqual(["usbip unbind -b 1-1.3"]);
    expect(await bound()).toEqual([]);
    await drv.release(ctx);
    expect(events.filter((e) => !e.ok)).toEqual([]);
  });

  it("the watcher finds a device that moved, by polling sysfs", async () => {
    const { ctx, deps } = testContext();
    const drv = createUsbDriver(config({ pollMs: 100 }), deps);
    await drv.apply(entry(), ctx);
    await rename(join(fakeSysfs, "1-1.2"), join(fakeSysfs, "3-2"));
    const deadline = Date.now() + 5000;
    while (!(await bound()).includes("3-2") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await bound()).toEqual(["3-2"]);
    await drv.release(ctx);
    expect((await calls()).at(-1)).toBe("usbip unbind -b 3-2");
  });

  it("reports a missing device, an ambiguous id and a missing usbipd", async () => {
    await rm(join(fakeProc, "4242"), { recursive: true });
    await plug("1-1.4", "0483", "df11", "OTHER");
    const { ctx, deps, events } = testContext();
    const drv = createUsbDriver(config({ devices: ["0483:df11", "dead:beef"] }), deps);
    await drv.apply(entry(), ctx);
    const failed = events.filter((e) => !e.ok).map((e) => e.message);
    expect(failed).toEqual([
      "usbipd is not running: devices are bound but nobody can attach them",
      "0483:df11: 2 devices match 0483:df11 (1-1.2, 1-1.4); using 1-1.2; add a serial to tell them apart",
      "dead:beef: dead:beef is not plugged in",
    ]);
    expect(await calls()).toEqual(["usbip bind -b 1-1.2"]);
    await drv.release(ctx);
  });

  it("simulation runs no usbip and says what it would run", async () => {
    const { ctx, deps, events } = testContext("board1", true);
    const drv = createUsbDriver(config(), { ...deps, simulate: true });
    await drv.apply(entry(), ctx);
    await drv.release(ctx);
    expect(await calls()).toEqual([]);
    expect(events.map((e) => e.message)).toEqual([
      "simulate: would run usbip bind -b 1-1.2 (stm32-dfu)",
      "simulate: would run usbip unbind -b 1-1.2 (stm32-dfu, reservation ended)",
    ]);
  });
});

const exported = (busid: string, id = "0483:df11") =>
  `      ${busid}: STMicroelectronics : STM Device in DFU Mode (${id})\n           : /sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/${busid}\n           : (Defined at Interface level) (00/00/00)\n`;

/** No server in these tests: the API lookup answers nothing, so only --host and --device count. */
const noApi = { lookup: async () => ({ host: null, ids: [] }) };

describe("labhog attach (holder's side) through the stand-in usbip", () => {
  it("without --host, the host and the resource's devices come from the API; only those are attached", async () => {
    // The host exports devices of two resources; board1's is the DFU device.
    await writeFile(join(state, "exported"), exported("1-1.2") + exported("2-4", "046d:c52b"));
    const asked: string[] = [];
    const lookup = async (r: string) => (asked.push(r), { host: "10.0.0.5", ids: ["0483:df11"] });
    expect(await runAttach(["board1", "--direct", "--once"], { lookup })).toBe(0);
    expect(asked).toEqual(["board1"]);
    expect(await calls()).toEqual(["usbip list -r 10.0.0.5", "usbip port", "usbip attach -r 10.0.0.5 -b 1-1.2"]);
    // --host overrides the API's host; the devices still come from it.
    expect(await runAttach(["board1", "--direct", "--once", "--host", "10.0.0.6"], { lookup: async () => ({ host: "10.0.0.5", ids: ["046d:c52b"] }) })).toBe(0);
    expect((await calls()).slice(3)).toEqual(["usbip list -r 10.0.0.6", "usbip port", "usbip attach -r 10.0.0.6 -b 2-4"]);
    // The server can't be asked: without --host that is the end; with it, the host's exports are used.
    const down = async () => { throw new Error("fetch failed"); };
    expect(await runAttach(["board1", "--direct", "--once"], { lookup: down })).toBe(1);
    expect(await runAttach(["board1", "--direct", "--once", "--host", "10.0.0.7"], { lookup: down })).toBe(0);
    expect((await calls()).slice(6)).toEqual(["usbip list -r 10.0.0.7", "usbip port", "usbip attach -r 10.0.0.7 -b 1-1.2", "usbip attach -r 10.0.0.7 -b 2-4"]);
    // A server that names no host: a clear refusal.
    expect(await runAttach(["board1", "--direct", "--once"], { lookup: async () => ({ host: null, ids: ["0483:df11"] }) })).toBe(2);
  });

  it("usbTargetOf reads agent.host and the vendor:product part of usage.usb.devices[].id", () => {
    const devices = [{ name: "dfu", id: "0483:DF11:3571A0B2" }, { name: "uart", id: "0403:6001" }, { name: "junk", id: "x" }];
    const agent = { id: "build2", status: "online", lastSeen: null, host: "build2.lab" };
    // The agent's report names every resource it serves; only board1's devices count.
    const report = { agent: "build2", at: "2026-11-30T10:00:00Z", resources: { board1: { usb: { devices } }, board2: { usb: { devices: [{ name: "other", id: "1366:0101" }] } } } };
    expect(usbTargetOf({ id: "board1", agent, usage: report })).toEqual({ host: "build2.lab", ids: ["0483:df11", "0403:6001"] });
    expect(usbTargetOf({ id: "board3", agent, usage: report })).toEqual({ host: "build2.lab", ids: [] });
    // A bare snapshot.
    expect(usbTargetOf({ id: "board1", agent, usage: { usb: { devices } } })).toEqual({ host: "build2.lab", ids: ["0483:df11", "0403:6001"] });
    expect(usbTargetOf({ agent: null, usage: null })).toEqual({ host: null, ids: [] });
  });

  it("--once attaches every device the host exports", async () => {
    await writeFile(join(state, "exported"), exported("1-1.2") + exported("2-4", "046d:c52b"));
    expect(await runAttach(["board1", "--host", "10.0.0.5", "--device", "0483:DF11", "--once", "--direct"], noApi)).toBe(0);
    expect(await calls()).toEqual(["usbip list -r 10.0.0.5", "usbip port", "usbip attach -r 10.0.0.5 -b 1-1.2"]);
    // Already attached: nothing more to do.
    expect(await runAttach(["board1", "--host", "10.0.0.5", "--once", "--direct"], noApi)).toBe(0);
    expect((await calls()).slice(3)).toEqual(["usbip list -r 10.0.0.5", "usbip port", "usbip attach -r 10.0.0.5 -b 2-4"]);
  });

  it("refuses bad arguments and says when nothing is exported", async () => {
    expect(await runAttach(["board1", "--direct"], noApi)).toBe(2);
    expect(await runAttach(["board1", "--host", "-oProxyCommand=x", "--once", "--direct"], noApi)).toBe(2); // parseArgs refuses it
    expect(await runAttach(["board1", "--host=-oProxyCommand=x", "--once", "--direct"], noApi)).toBe(1);
    expect(await runAttach(["board1", "--host", "h", "--device", "nope", "--direct"], noApi)).toBe(2);
    expect(await runAttach(["board1", "--host", "10.0.0.5", "--once", "--direct"], noApi)).toBe(1);
    expect(await calls()).toEqual(["usbip list -r 10.0.0.5"]); // the option-looking host never reached usbip
  });

  it("re-attaches after the device resets and comes back on another bus id", async () => {
    await writeFile(join(state, "exported"), exported("1-1.2"));
    const stop = new AbortController();
    const said: string[] = [];
    const usbip = new Usbip(execFileArgs);
    const loop = keepAttached({ host: "10.0.0.5", ids: [], usbip, log: createLogger({ write: () => {} }), intervalMs: 100, say: (l) => said.push(l) }, stop.signal);
    const waitFor = async (line: string) => {
      const deadline = Date.now() + 5000;
      while (!(await calls()).includes(line) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await calls()).toContain(line);
    };
    await waitFor("usbip attach -r 10.0.0.5 -b 1-1.2");
    // The stand-in logs its call before it records the import: wait until the attach finished.
    for (const deadline = Date.now() + 5000; said.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    // The board resets: its vhci port drops and the agent re-exports it on 1-1.3.
    await writeFile(join(state, "imported"), "");
    await writeFile(join(state, "exported"), exported("1-1.3"));
    await waitFor("usbip attach -r 10.0.0.5 -b 1-1.3");
    stop.abort();
    await loop;
    await detachHost(usbip, "10.0.0.5", (l) => said.push(l));
    expect(said).toEqual([
      "attached 0483:df11 STMicroelectronics : STM Device in DFU Mode (10.0.0.5 1-1.2)",
      "lost 1-1.2 from 10.0.0.5; re-attaching",
      "attached 0483:df11 STMicroelectronics : STM Device in DFU Mode (10.0.0.5 1-1.3)",
      "detached 1-1.3 (port 0)",
    ]);
    expect((await calls()).at(-1)).toBe("usbip detach -p 0");
  });

  it("`labhog attach` as a command: keeps attached until Ctrl-C, then detaches", async () => {
    await writeFile(join(state, "exported"), exported("1-1.2"));
    const bin = resolve(import.meta.dirname, "../../../edge-agent/bin/labhog.mjs");
    const child = spawn(process.execPath, [bin, "attach", "board1", "--host", "10.0.0.5", "--direct", "--device", "0483:df11", "--interval", "100ms"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => { out += b.toString(); });
    child.stderr.on("data", (b: Buffer) => { out += b.toString(); });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    for (const deadline = Date.now() + 20_000; !out.includes("attached ") && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(out).toContain("attached 0483:df11 STMicroelectronics : STM Device in DFU Mode (10.0.0.5 1-1.2)");
    expect(out).toContain("detached 1-1.2 (port 0)");
    expect((await calls()).at(-1)).toBe("usbip detach -p 0");
  });
});
