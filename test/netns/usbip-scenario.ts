/**
 * Runs INSIDE private mount+net+pid namespaces (started by
 * test/netns/usbip-holder.test.ts), so the machine's own network and
 * nftables are never touched. The scenario's namespace is the agent's host;
 * two more network namespaces, joined to it by veth pairs, are the laptops
 * of bob and alice. On the host: a real sshd, REAL nftables rules put in
 * place by the usb driver, and a TCP listener on port 3240 that is a
 * STAND-IN for usbipd (usbipd needs kernel modules this machine lacks): it
 * greets every connection with "USBIPD-STAND-IN". The usbip tool on both
 * sides is the STAND-IN of test/stand-ins, which with STANDIN_USBIP_CONNECT
 * really connects to usbipd (through the tunnel) before it "attaches".
 * Prints one JSON line.
 */
import { spawn, type ChildProcess } from "node:child_process";
import mqtt from "mqtt";
import { rulesetText } from "../../edge-agent/drivers/usb/firewall.ts";
import { startMosquitto } from "../services/mosquitto.ts";
import { agentYaml, AgentLog, entry as scheduleEntry, listen, schedule, sign, spawnAgent, testKey } from "../agent/helpers.ts";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createUsbDriver } from "../../edge-agent/drivers/usb/index.ts";
import type { HotplugSource } from "../../edge-agent/drivers/usb/hotplug.ts";
import { entry, testContext } from "../agent/drivers/helpers.ts";
import { addUser, authorize, privatizeFilesystem, run, sshKey } from "./namespace.ts";
import { startSshd } from "./sshd.ts";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const W = "/run/labhog-usbip";
const result: Record<string, any> = { phases: {} };

/** The hosts' and laptops' addresses: bob's laptop on one veth, alice's on the other. */
const NET = {
  bob: { ns: "laptop-bob", host: "10.77.1.1", laptop: "10.77.1.2" },
  alice: { ns: "laptop-alice", host: "10.77.2.1", laptop: "10.77.2.2" },
} as const;
type Who = keyof typeof NET;

await privatizeFilesystem(W);
const UID = { bob: 62001, alice: 62002 } as const;
const keys: Record<Who, string> = { bob: `${W}/keys/bob`, alice: `${W}/keys/alice` };
await mkdir(`${W}/keys`, { recursive: true });
for (const who of ["bob", "alice"] as const) {
  const { home } = await addUser(who, UID[who]);
  await authorize(who, home, [await sshKey(keys[who], `${who}@laptop`)]);
}

for (const who of ["bob", "alice"] as const) {
  const n = NET[who];
  await run("ip", ["netns", "add", n.ns]);
  await run("ip", ["link", "add", `v-${who}`, "type", "veth", "peer", "name", "eth0", "netns", n.ns]);
  await run("ip", ["addr", "add", `${n.host}/24`, "dev", `v-${who}`]);
  await run("ip", ["link", "set", `v-${who}`, "up"]);
  await run("ip", ["-n", n.ns, "addr", "add", `${n.laptop}/24`, "dev", "eth0"]);
  await run("ip", ["-n", n.ns, "link", "set", "eth0", "up"]);
  await run("ip", ["-n", n.ns, "link", "set", "lo", "up"]);
}

// sshd on the host, reachable from both laptops (its drop-in folder is Included first).
await mkdir(`${W}/sshd/sshd_config.d`, { recursive: true });
await writeFile(`${W}/sshd/sshd_config.d/listen.conf`, `ListenAddress ${NET.bob.host}\nListenAddress ${NET.alice.host}\nAllowTcpForwarding local\n`);
const sshd = await startSshd(`${W}/sshd`, ".ssh/authorized_keys");

// STAND-IN for usbipd: a real TCP listener on its port, recording who reached it.
const reached: string[] = [];
const usbipd = createServer((s: Socket) => {
  reached.push(s.remoteAddress ?? "?");
  s.end("USBIPD-STAND-IN\n");
});
await new Promise<void>((r) => usbipd.listen(3240, "0.0.0.0", r));

// The board's DFU device in a fake sysfs (no USB bus here); the stand-in usbip records binds.
const sysfs = `${W}/sys/bus/usb/devices`;
await mkdir(`${sysfs}/1-2`, { recursive: true });
for (const [k, v] of Object.entries({ idVendor: "0483", idProduct: "df11", serial: "BOARD42" })) await writeFile(`${sysfs}/1-2/${k}`, v + "\n");
await mkdir(`${W}/proc/4242`, { recursive: true });
await writeFile(`${W}/proc/4242/comm`, "usbipd\n");
const standins = join(repo, "test", "stand-ins");
const exportedLine = "      1-2: STMicroelectronics : STM Device in DFU Mode (0483:df11)\n           : /sys/devices/pci0000:00/0000:00:14.0/usb1/1-2\n";
async function standinState(name: string): Promise<string> {
  const dir = `${W}/usbip-${name}`;
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}/exported`, exportedLine);
  for (const f of ["bound", "imported", "log"]) await writeFile(`${dir}/${f}`, "");
  return dir;
}
const hostState = await standinState("host");
process.env.PATH = `${standins}${delimiter}${process.env.PATH}`;
process.env.STANDIN_LOG = `${hostState}/log`;
process.env.STANDIN_USBIP_STATE = hostState;

const sh = (cmd: string, args: string[], opts: { uid?: number; env?: NodeJS.ProcessEnv } = {}) =>
  new Promise<{ code: number | null; out: string; err: string }>((done) => {
    const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: opts.env ?? process.env, ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}) });
    let out = "";
    let err = "";
    c.stdout.on("data", (b: Buffer) => (out += b.toString()));
    c.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const t = setTimeout(() => c.kill("SIGKILL"), 60_000);
    c.on("exit", (code) => { clearTimeout(t); done({ code, out, err }); });
  });

/** One TCP connect with bash's /dev/tcp: the greeting, or "refused". */
const TCP = 'exec 3<>"/dev/tcp/$0/$1" 2>/dev/null || { echo refused; exit 0; }; read -r -t 10 l <&3; echo "${l:-closed}"';
async function probeFromLaptop(who: Who, host: string): Promise<string> {
  return (await sh("ip", ["netns", "exec", NET[who].ns, "bash", "-c", TCP, host, "3240"])).out.trim();
}
async function probeOnHost(uid: number): Promise<string> {
  return (await sh("bash", ["-c", TCP, "127.0.0.1", "3240"], { uid })).out.trim();
}

/** `labhog attach` on a laptop, as `login` on the host, through its own SSH tunnel. */
async function attachFromLaptop(who: Who, login: Who): Promise<{ code: number | null; out: string; err: string; calls: string[] }> {
  const state = await standinState(`${who}-as-${login}-${Date.now()}`);
  const cfg = `${state}/ssh_config`;
  await writeFile(cfg, `Host *\n  IdentityFile ${keys[login]}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n`);
  const env = { ...process.env, STANDIN_LOG: `${state}/log`, STANDIN_USBIP_STATE: state, STANDIN_USBIP_CONNECT: "1" };
  const r = await sh("ip", ["netns", "exec", NET[who].ns, process.execPath, `${repo}/edge-agent/bin/labhog.mjs`, "attach", "board1", "--host", NET[who].host, "--login", login, "--ssh-port", String(sshd.port), "--ssh-config", cfg, "--device", "0483:df11", "--once"], { env });
  const calls = (await readFile(`${state}/log`, "utf8")).split("\n").filter(Boolean).map((l) => l.split("\t").join(" ").replace(/--tcp-port \d+/, "--tcp-port N"));
  return { ...r, calls };
}

async function table(): Promise<string | null> {
  const r = await sh("nft", ["list", "table", "inet", "labhog_usbip"]);
  return r.code === 0 ? r.out : null;
}
const bound = async () => (await readFile(`${hostState}/bound`, "utf8")).split("\n").filter(Boolean);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function underTheRealAgent(usb: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const broker = await startMosquitto();
  const key = await testKey("lab-key");
  const cfgPath = `${W}/agent.yaml`;
  await writeFile(cfgPath, agentYaml({
    brokerUrl: broker.url, kid: key.kid, publicJwk: key.publicJwk, stateDir: `${W}/agent-state`,
    resourceLines: [`{ id: board1, kind: board, hog: false, notify: false, usb: ${JSON.stringify({ ...usb, usbip: join(standins, "usbip") })} }`],
  }));
  let agent: ChildProcess | undefined;
  const agentLog = new AgentLog();
  const startAgent = () => spawnAgent(cfgPath, agentLog);
  const events = await listen(broker.url, "labhog/lab/agents/host1/events");
  const pub = await mqtt.connectAsync(broker.url);
  const publish = async (seq: number, entries: ReturnType<typeof scheduleEntry>[]) =>
    pub.publishAsync("labhog/lab/resources/board1/schedule", await sign(schedule("board1", seq, entries), key), { qos: 1, retain: true });
  const enforced = (pred: (m: any) => boolean, since: number) => events.waitFor((b) => b.action === "enforced" && Date.parse(b.time) >= since && pred(b), 30_000);
  try {
    // A table left by someone before the agent ever ran (alice's uid): start-up with nothing booked removes it.
    await writeFile(`${W}/leftover.nft`, rulesetText({ port: 3240, uids: [UID.alice] }));
    await run("nft", ["-f", `${W}/leftover.nft`]);
    out.leftover = await table();
    let t = Date.now();
    agent = startAgent();
    await events.waitFor((b) => b.action === "started", 30_000);
    await enforced(() => true, t);
    out.idle = { table: await table(), alice: await probeOnHost(UID.alice) };

    t = Date.now();
    await publish(1, [scheduleEntry({ id: "res-1", start: new Date(t - 1000), end: new Date(t + 120_000), holder: { id: "bob", unix: ["bob"] } })]);
    const ok = await enforced((b) => b.ok === true, t);
    out.booked = { enforced: { ok: ok.ok, holder: ok.holder }, bound: await bound(), bob: await probeOnHost(UID.bob), alice: await probeOnHost(UID.alice), fromNetwork: await probeFromLaptop("bob", NET.bob.host) };

    // kill -9, and the booking ends while the agent is down.
    agent.kill("SIGKILL");
    await new Promise((r) => agent!.once("exit", r));
    await publish(2, []);
    await sleep(500);
    out.whileDead = { bound: await bound(), bob: await probeOnHost(UID.bob), alice: await probeOnHost(UID.alice) };
    t = Date.now();
    agent = startAgent();
    await events.waitFor((b) => b.action === "started" && Date.parse(b.time) >= t, 30_000);
    // Its saved schedule still says bob; the retained one (seq 2, empty) then ends the booking.
    const accepted = await events.waitFor((b) => b.action === "schedule-accepted" && Date.parse(b.time) >= t && /^seq 2,/.test(b.message), 30_000);
    // "free": the saved hold is enforced again at start-up, possibly within the same millisecond as the acceptance.
    await enforced((b) => b.message === "free", Date.parse(accepted.time));
    out.restarted = { table: await table(), bound: await bound(), bob: await probeOnHost(UID.bob) };
    out.failed = events.messages.map((m) => m.body).filter((b: any) => b.ok === false).map((b: any) => `${b.driver}/${b.action}: ${b.message}`);
    return out;
  } catch (e) {
    throw new Error(`${(e as Error).message}\nagent log:\n${agentLog.text.slice(-4000)}`);
  } finally {
    agent?.kill("SIGTERM");
    await sleep(300);
    await events.client.endAsync().catch(() => {});
    await pub.endAsync().catch(() => {});
    await broker.stop();
  }
}

const nftConf = async () => createHash("sha256").update(await readFile("/etc/nftables.conf").catch(() => Buffer.from("(none)"))).digest("hex");

try {
  const confBefore = await nftConf();
  // ---- 0. Without the driver's table, anyone on the network reaches usbipd: what the table is for.
  result.phases.open = { alice: await probeFromLaptop("alice", NET.alice.host), bob: await probeFromLaptop("bob", NET.bob.host), alicesUid: await probeOnHost(UID.alice) };

  // ---- 1. bob's booking.
  const hotplug: HotplugSource = { kind: "stand-in", subscribe: () => () => {} };
  const config = { devices: [{ id: "0483:df11:BOARD42", name: "dfu" }], sysfsRoot: sysfs, procRoot: `${W}/proc`, pollMs: 3_600_000 };
  const { ctx, deps, events } = testContext("board1");
  const drv = createUsbDriver(config, { ...deps, hotplug });
  await drv.apply(entry({ id: "r-bob", holder: { id: "bob", unix: ["bob"], keys: [] } }), ctx);
  reached.length = 0;
  result.phases.bob = {
    table: await table(),
    bound: (await readFile(`${hostState}/bound`, "utf8")).split("\n").filter(Boolean),
    hostCalls: (await readFile(`${hostState}/log`, "utf8")).split("\n").filter(Boolean).map((l) => l.split("\t").join(" ")),
    problems: drv.problems!(),
    direct: { bob: await probeFromLaptop("bob", NET.bob.host), alice: await probeFromLaptop("alice", NET.alice.host) },
    onHost: { bob: await probeOnHost(UID.bob), alice: await probeOnHost(UID.alice), root: await probeOnHost(0) },
    reachedByProbes: [...reached],
  };
  reached.length = 0;
  result.phases.bob.attach = { bob: await attachFromLaptop("bob", "bob"), alice: await attachFromLaptop("alice", "alice") };
  result.phases.bob.reachedByAttach = [...reached];
  result.phases.bob.sshdRefusedForward = /connect_to 127\.0\.0\.1 port 3240: failed/.test(sshd.output());

  // ---- 2. The next booking is alice's: the table follows the holder.
  await drv.apply(entry({ id: "r-alice", holder: { id: "alice", unix: ["alice"], keys: [] } }), ctx);
  result.phases.alice = {
    onHost: { bob: await probeOnHost(UID.bob), alice: await probeOnHost(UID.alice) },
    attach: { alice: await attachFromLaptop("alice", "alice"), bob: await attachFromLaptop("bob", "bob") },
  };

  // ---- 3. Release: nothing bound, no table.
  await drv.release(ctx);
  result.phases.released = { table: await table(), bound: (await readFile(`${hostState}/bound`, "utf8")).split("\n").filter(Boolean), problems: drv.problems!() };

  // ---- 4. kill -9 of a process that put the table in place, then a fresh driver (the agent restarting) releases.
  const child = spawn(process.execPath, ["--import", "tsx", join(repo, "test", "netns", "usbip-apply.ts")], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, USBIP_SYSFS: sysfs, USBIP_PROC: `${W}/proc` } });
  let said = "";
  child.stdout!.on("data", (b: Buffer) => (said += b.toString()));
  for (let i = 0; i < 600 && !said.includes("APPLIED"); i++) await new Promise((r) => setTimeout(r, 100));
  const state = JSON.parse(said.split("\n").find((l) => l.startsWith("{"))!);
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
  const afterKill = { table: await table(), bob: await probeOnHost(UID.bob), alice: await probeOnHost(UID.alice) };
  const fresh = createUsbDriver(config, { ...deps, hotplug });
  await fresh.restore!(state, ctx);
  await fresh.release(ctx);
  result.phases.restart = { afterKill, state, afterRelease: { table: await table(), bob: await probeOnHost(UID.bob), alice: await probeOnHost(UID.alice) } };

  // ---- 5. The real agent (`labhog agent`, its own process): schedules over MQTT, kill -9, restart.
  result.phases.agent = await underTheRealAgent(config);

  // ---- 6. Nothing was saved for a reboot: the system's nftables file is as it was.
  result.phases.persistence = { confUnchanged: (await nftConf()) === confBefore };
  result.failedEvents = events.filter((e) => !e.ok).map((e) => e.message);
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = (e as Error).stack ?? String(e);
  result.sshdLog = sshd.output().slice(-4000);
} finally {
  await sshd.stop();
  usbipd.close();
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
