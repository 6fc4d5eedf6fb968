/**
 * Runs INSIDE private mount+net+pid namespaces (started by
 * test/agent/access-netns.test.ts): real useradd'ed users, REAL setfacl and
 * getfacl on real character device nodes (mknod) on a tmpfs, a fake sysfs
 * tree naming them (this machine has no USB bus), a real Mosquitto and the
 * real agent (`labhog agent`, its own process). Prints one JSON line.
 */
import type { ChildProcess } from "node:child_process";
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import mqtt from "mqtt";
import { createAccessDriver, type HotplugSource } from "../../edge-agent/drivers/access/index.ts";
import { createLogger } from "../../edge-agent/log.ts";
import { startMosquitto } from "../services/mosquitto.ts";
import { agentYaml, AgentLog, entry, listen, schedule, sign, spawnAgent, testKey } from "../agent/helpers.ts";
import { addUser, privatizeFilesystem, run } from "./namespace.ts";

const W = "/run/labhog-netns";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const result: Record<string, any> = { phases: {} };

await privatizeFilesystem(W);
for (const [i, name] of ["alice", "bob", "carol"].entries()) await addUser(name, 62001 + i);

// The board: an STM32 in DFU mode (0483:df11) with a CDC-ACM console, and an FTDI UART found by its by-id link.
const SYS = `${W}/sys`;
const DEV = `${W}/dev`;
const usbDir = `${SYS}/bus/usb/devices`;
async function plugBoard(devnum: number, acm: string): Promise<void> {
  await rm(`${usbDir}/1-2`, { recursive: true, force: true });
  await mkdir(`${usbDir}/1-2/1-2:1.0/tty/${acm}`, { recursive: true });
  for (const [k, v] of Object.entries({ idVendor: "0483", idProduct: "df11", serial: "BOARD42", busnum: "1", devnum: String(devnum) })) await writeFile(`${usbDir}/1-2/${k}`, v + "\n");
  await mkdir(`${DEV}/bus/usb/001`, { recursive: true });
  await run("mknod", ["-m", "0660", `${DEV}/bus/usb/001/${String(devnum).padStart(3, "0")}`, "c", "189", String(devnum - 1)]);
  await run("mknod", ["-m", "0660", `${DEV}/${acm}`, "c", "166", acm.replace(/\D/g, "")]);
}
async function unplugBoard(devnum: number, acm: string): Promise<void> {
  await rm(`${usbDir}/1-2`, { recursive: true, force: true });
  await rm(`${DEV}/bus/usb/001/${String(devnum).padStart(3, "0")}`, { force: true });
  await rm(`${DEV}/${acm}`, { force: true });
}
await mkdir(`${DEV}/serial/by-id`, { recursive: true });
await run("mknod", ["-m", "0660", `${DEV}/ttyUSB0`, "c", "188", "0"]);
await symlink("../../ttyUSB0", `${DEV}/serial/by-id/usb-FTDI_FT232R_A10K-if00-port0`);
await plugBoard(4, "ttyACM0");
// Not the board's: must never be touched.
await run("mknod", ["-m", "0660", `${DEV}/ttyUSB9`, "c", "188", "9"]);
await run("setfacl", ["-m", "u:carol:rw", `${DEV}/ttyUSB9`]);

/** Named-user ACL entries of every node, as getfacl (not our parser) prints them. */
async function acls(): Promise<Record<string, string[]>> {
  const { stdout } = await run("find", [DEV, "-type", "c"]);
  const out: Record<string, string[]> = {};
  for (const node of stdout.trim().split("\n").sort()) {
    const g = await run("getfacl", ["-p", "--omit-header", node]);
    out[node.slice(DEV.length + 1)] = g.stdout.split("\n").filter((l) => /^user:[^:]+:/.test(l)).map((l) => l.split("\t")[0]!);
  }
  return out;
}
const access = {
  devices: [{ usb: "0483:df11:BOARD42" }, { path: `${DEV}/serial/by-id/usb-FTDI_FT232R_A10K-if00-port0` }],
  sysfsRoot: SYS,
  devRoot: DEV,
};

try {
  // ---- 1. The driver alone, with a stand-in hotplug source (STAND-IN for libusb's attach/detach events).
  {
    const listeners = new Set<() => void>();
    const hotplug: HotplugSource = { kind: "stand-in", subscribe: (f) => (listeners.add(f), () => listeners.delete(f)) };
    const events: any[] = [];
    const ctx = { resource: "board1", log: createLogger({ write: () => {} }), simulate: false, emit: (e: any) => events.push(e) };
    // A leftover entry for alice (a crash, an admin's hand): the booking is bob's alone.
    await run("setfacl", ["-m", "u:alice:rw", `${DEV}/ttyACM0`]);
    const d = createAccessDriver({ ...access, pollInterval: "1h" }, { log: ctx.log, simulate: false, hotplug });
    await d.apply(entry({ id: "r1", start: new Date(), end: new Date(Date.now() + 60_000), holder: { id: "bob", unix: ["bob"] } }), ctx);
    result.phases.driverApplied = { acls: await acls(), problems: d.problems() };
    // Re-enumeration: the board resets into DFU mode and comes back as device 7 with ttyACM1.
    await unplugBoard(4, "ttyACM0");
    await plugBoard(7, "ttyACM1");
    for (const f of listeners) f();
    // The resync runs getfacl/setfacl per node, one after another: on a loaded machine that is more than a moment.
    let reenumerated: Record<string, string[]> = {};
    for (const until = Date.now() + 10_000; Date.now() < until; await sleep(100)) {
      reenumerated = await acls();
      if (reenumerated["bus/usb/001/007"]?.includes("user:bob:rw-") && reenumerated["ttyACM1"]?.includes("user:bob:rw-")) break;
    }
    result.phases.driverReenumerated = { acls: reenumerated, listeners: listeners.size };
    // A holder without a unix login on this host: nobody gets the devices, and it is a failure, not a silent success.
    let noLogin: string | undefined;
    await d.apply(entry({ id: "r2", start: new Date(), end: new Date(Date.now() + 60_000), holder: { id: "zoe", unix: [] } }), ctx).catch((e: Error) => (noLogin = e.message));
    result.phases.driverNoLogin = { error: noLogin, acls: await acls(), problems: d.problems() };
    await d.release(ctx);
    result.phases.driverReleased = { acls: await acls(), listeners: listeners.size, events: events.map((e) => ({ action: e.action, ok: e.ok })) };
    await unplugBoard(7, "ttyACM1");
    await plugBoard(4, "ttyACM0");
  }

  // ---- 2. The real agent: schedules over MQTT, kill -9 and restart.
  const broker = await startMosquitto();
  const key = await testKey("lab-key");
  const stateDir = `${W}/state`;
  const cfgPath = `${W}/agent.yaml`;
  await writeFile(cfgPath, agentYaml({
    brokerUrl: broker.url, kid: key.kid, publicJwk: key.publicJwk, stateDir,
    resourceLines: [`{ id: board1, kind: board, hog: false, notify: false, access: ${JSON.stringify({ ...access, pollInterval: "200ms" })} }`],
  }));
  let agent: ChildProcess | undefined;
  const agentLog = new AgentLog();
  const startAgent = () => spawnAgent(cfgPath, agentLog);
  const killAgent = async () => {
    agent!.kill("SIGKILL");
    await new Promise((r) => agent!.once("exit", r));
  };
  const events = await listen(broker.url, "labhog/lab/agents/host1/events");
  const pub = await mqtt.connectAsync(broker.url);
  const publish = async (seq: number, entries: ReturnType<typeof entry>[]) =>
    pub.publishAsync("labhog/lab/resources/board1/schedule", await sign(schedule("board1", seq, entries), key), { qos: 1, retain: true });
  const enforced = (pred: (m: any) => boolean, since: number) => events.waitFor((b) => b.action === "enforced" && Date.parse(b.time) >= since && pred(b), 20_000);
  try {
    // A leftover from before the agent ever ran: start-up with nothing booked clears it.
    await run("setfacl", ["-m", "u:alice:rw", `${DEV}/ttyUSB0`]);
    agent = startAgent();
    await events.waitFor((b) => b.action === "started", 30_000);
    await sleep(1500);
    result.phases.agentIdle = { acls: await acls() };

    let t = Date.now();
    await publish(1, [entry({ id: "res-1", start: new Date(t - 1000), end: new Date(t + 60_000), holder: { id: "bob", unix: ["bob"] } })]);
    result.phases.agentBooked = { enforced: await enforced((b) => b.ok === true, t), acls: await acls() };

    // Re-enumeration under the real agent (no hotplug events here: its poll finds it).
    await unplugBoard(4, "ttyACM0");
    await plugBoard(9, "ttyACM2");
    const until = Date.now() + 10_000;
    let seen: Record<string, string[]> = {};
    while (Date.now() < until) {
      seen = await acls();
      if (seen["bus/usb/001/009"]?.includes("user:bob:rw-") && seen["ttyACM2"]?.includes("user:bob:rw-")) break;
      await sleep(200);
    }
    result.phases.agentReenumerated = { acls: seen };

    t = Date.now();
    await publish(2, []);
    result.phases.agentReleased = { enforced: await enforced(() => true, t), acls: await acls() };

    // kill -9 during a booking that then ends while the agent is down: the restarted agent clears it.
    t = Date.now();
    await publish(3, [entry({ id: "res-3", start: new Date(t - 1000), end: new Date(t + 4000), holder: { id: "carol", unix: ["carol"] } })]);
    await enforced((b) => b.ok === true, t);
    const duringKill = await acls();
    await killAgent();
    await sleep(5000);
    const afterKillBeforeRestart = await acls();
    t = Date.now();
    agent = startAgent();
    await events.waitFor((b) => b.action === "started" && Date.parse(b.time) >= t, 30_000);
    await sleep(1500);
    result.phases.agentKilled = { during: duringKill, whileDead: afterKillBeforeRestart, afterRestart: await acls() };
    result.phases.failed = events.messages.map((m) => m.body).filter((b: any) => b.ok === false).map((b: any) => ({ driver: b.driver, action: b.action, message: b.message }));
    result.ok = true;
  } finally {
    result.agentLogTail = agentLog.text.slice(-5000);
    agent?.kill("SIGTERM");
    await sleep(300);
    await events.client.endAsync().catch(() => {});
    await pub.endAsync().catch(() => {});
    await broker.stop();
  }
} catch (e) {
  result.ok = false;
  result.error = (e as Error).stack ?? String(e);
} finally {
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}
