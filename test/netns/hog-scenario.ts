/**
 * Runs INSIDE private mount+net+pid namespaces (started by
 * test/agent/hog-netns.test.ts through runScenario): real useradd'ed users,
 * a real sshd on lo, real ssh logins, a real Mosquitto, and the real agent
 * (`labhog agent`, its own process). Prints one JSON line with what happened;
 * the vitest test asserts on it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { startMosquitto } from "../services/mosquitto.ts";
import { entry, listen, makeStandins, schedule, sign, testKey } from "../agent/helpers.ts";
import { addUser, authorize, mountsAt, privatizeFilesystem, run, sshKey } from "./namespace.ts";
import { startSshd } from "./sshd.ts";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const W = "/run/labhog-netns";
const log = (msg: string, f: Record<string, unknown> = {}) => process.stderr.write(JSON.stringify({ scenario: msg, t: new Date().toISOString(), ...f }) + "\n");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const result: Record<string, any> = { phases: {} };

await privatizeFilesystem(W);
const keysDir = `${W}/keys`;
await mkdir(keysDir, { recursive: true });
await mkdir("/etc/labhog-test-keys", { recursive: true });

// alice, bob: keys in ~/.ssh/authorized_keys; carol: keys in /etc/labhog-test-keys/%u (second pattern); dave: admin.
const users: Record<string, { home: string; key: string; pub: string }> = {};
for (const [i, name] of ["alice", "bob", "carol", "dave"].entries()) {
  const { home } = await addUser(name, 61001 + i);
  const key = `${keysDir}/${name}`;
  const pub = await sshKey(key, `${name}@test`);
  users[name] = { home, key, pub };
  if (name === "carol") await writeFile(`/etc/labhog-test-keys/carol`, pub + "\n", { mode: 0o644 });
  else await authorize(name, home, [pub]);
}
const rootKey = `${keysDir}/root`;
await writeFile("/etc/labhog-test-keys/root", (await sshKey(rootKey, "root@test")) + "\n", { mode: 0o600 });
const bobLaptop = `${keysDir}/bob-laptop`;
const bobLaptopPub = await sshKey(bobLaptop, "bob@laptop");

const sshd = await startSshd(`${W}/sshd`, ".ssh/authorized_keys /etc/labhog-test-keys/%u");
const broker = await startMosquitto();
const key = await testKey("lab-key");
const standins = await makeStandins(W, ["systemctl", "tmux"], { tmux: `if (process.argv[2] === "list-clients") console.log("/dev/pts/99");` });

const stateDir = `${W}/state`;
const cfgPath = `${W}/agent.yaml`;
await writeFile(cfgPath, [
  "agent: host1",
  "site: lab",
  `broker: { url: "${broker.url}" }`,
  `trustedKeys: { lab-key: ${JSON.stringify(key.publicJwk)} }`,
  "resources: [ { id: host1 } ]",
  `stateDir: ${stateDir}`,
  "statusUrl: https://lab.example/status",
  "hog:",
  `  sshdConfig: ${sshd.config}`,
  "  admins: [dave]",
  `  statusCommand: ${process.execPath} ${repo}/edge-agent/bin/labhog.mjs status`,
  "  stopUnits: [fake-batch.service]",
  "  sessionGrace: 2s",
  `notify: { motd: ${W}/motd.d/labhog }`,
].join("\n") + "\n");

let agent: ChildProcess | undefined;
let agentLog = "";
function startAgent(): ChildProcess {
  const c = spawn(process.execPath, [`${repo}/edge-agent/bin/labhog.mjs`, "agent", "--config", cfgPath], {
    env: { ...process.env, PATH: `${standins.bin}:${process.env.PATH}` },
    stdio: ["ignore", "ignore", "pipe"],
  });
  c.stderr!.on("data", (b: Buffer) => (agentLog = (agentLog + b).slice(-100_000)));
  return c;
}
const events = await listen(broker.url, "labhog/lab/agents/host1/events");
const pub = await mqtt.connectAsync(broker.url);
const publish = async (seq: number, entries: ReturnType<typeof entry>[]) =>
  pub.publishAsync("labhog/lab/resources/host1/schedule", await sign(schedule("host1", seq, entries), key), { qos: 1, retain: true });
/** Waits for the agent's `enforced` event after `since` matching pred. */
const enforced = (pred: (m: any) => boolean, since: number, timeoutMs = 20_000) =>
  events.waitFor((b) => b.action === "enforced" && Date.parse(b.time) >= since && pred(b), timeoutMs);

const targets = ["/home/alice/.ssh/authorized_keys", "/home/bob/.ssh/authorized_keys", "/etc/labhog-test-keys/carol", "/home/dave/.ssh/authorized_keys", "/etc/labhog-test-keys/root"];
const mounts = async () => Object.fromEntries(await Promise.all(targets.map(async (t) => [t, await mountsAt(t)])));
const logins = async () => ({
  alice: await sshd.login("alice", users.alice!.key),
  bob: await sshd.login("bob", users.bob!.key),
  bobLaptop: await sshd.login("bob", bobLaptop),
  carol: await sshd.login("carol", users.carol!.key),
  dave: await sshd.login("dave", users.dave!.key),
  root: await sshd.login("root", rootKey),
});

try {
  agent = startAgent();
  await events.waitFor((b) => b.action === "started", 30_000);
  result.phases.before = { logins: await logins(), mounts: await mounts() };

  // alice is logged in with a terminal when bob's reservation starts.
  const aliceSession = { out: "", exitedAt: 0 as number, startedAt: Date.now() };
  const aliceTty = spawn("ssh", ["-tt", "-i", users.alice!.key, "-p", String(sshd.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "alice@127.0.0.1", "echo READY; sleep 120"], { stdio: ["pipe", "pipe", "pipe"] });
  aliceTty.stdout.on("data", (b: Buffer) => (aliceSession.out += b.toString()));
  aliceTty.on("exit", () => (aliceSession.exitedAt = Date.now()));
  for (let i = 0; i < 100 && !aliceSession.out.includes("READY"); i++) await sleep(100);

  // 1. bob holds the host; the schedule adds his laptop key.
  let t0 = Date.now();
  await publish(1, [entry({ id: "res-1", start: new Date(t0 - 1000), end: new Date(t0 + 120_000), holder: { id: "bob", unix: ["bob"], keys: [bobLaptopPub] } })]);
  const hogApplied = await enforced((b) => b.reservation === "res-1", t0);
  const graceStarted = Date.now();
  // Other users' sessions are warned, then ended after the 2 s grace; log in after that.
  const ended = await events.waitFor((b) => b.driver === "hog" && b.action === "sessions-ended" && Date.parse(b.time) >= t0, 15_000);
  for (let i = 0; i < 100 && !aliceSession.exitedAt; i++) await sleep(100);
  result.phases.during = { logins: await logins(), mounts: await mounts(), enforced: hogApplied, sessionsEnded: ended };
  result.phases.during.aliceSession = { out: aliceSession.out, endedAfterMs: aliceSession.exitedAt ? aliceSession.exitedAt - graceStarted : null };
  result.phases.during.systemctl = (await standins.calls()).filter((c) => c.cmd === "systemctl").map((c) => c.args);
  result.phases.during.tmux = (await standins.calls()).filter((c) => c.cmd === "tmux").map((c) => c.args);
  result.phases.during.motd = await readFile(`${W}/motd.d/labhog`, "utf8").catch((e) => String(e));
  result.phases.during.lockedFile = await readFile("/home/alice/.ssh/authorized_keys", "utf8");

  // 2. kill -9 mid-reservation: mounts stay (that is the point); a restart must neither stack nor drop them.
  agent.kill("SIGKILL");
  await new Promise((r) => agent!.once("exit", r));
  result.phases.afterKill = { mounts: await mounts() };
  t0 = Date.now();
  agent = startAgent();
  result.phases.restarted = { enforced: await enforced((b) => b.reservation === "res-1", t0, 30_000) };
  Object.assign(result.phases.restarted, { logins: await logins(), mounts: await mounts() });

  // 3. release through a new schedule without the reservation.
  t0 = Date.now();
  await publish(2, []);
  await enforced((b) => b.message === "free", t0);
  result.phases.released = { logins: await logins(), mounts: await mounts(), systemctl: (await standins.calls()).filter((c) => c.cmd === "systemctl").map((c) => c.args) };

  // 4. kill -9 during a reservation that then ends while the agent is down: start-up undoes it.
  t0 = Date.now();
  await publish(3, [entry({ id: "res-3", start: new Date(t0 - 1000), end: new Date(t0 + 5000), holder: { id: "bob", unix: ["bob"] } })]);
  await enforced((b) => b.reservation === "res-3", t0);
  const lockedWhileDown = await sshd.login("alice", users.alice!.key);
  agent.kill("SIGKILL");
  await new Promise((r) => agent!.once("exit", r));
  const end3 = t0 + 5000;
  while (Date.now() < end3 + 1000) await sleep(100);
  const staleBefore = await mounts();
  t0 = Date.now();
  agent = startAgent();
  await enforced((b) => b.message === "free", t0, 30_000);
  result.phases.startupUndo = { lockedWhileDown, staleBefore, mounts: await mounts(), alice: await sshd.login("alice", users.alice!.key) };

  // 5. a reservation that starts and ends by the agent's clock.
  t0 = Date.now();
  const s5 = t0 + 1500;
  const e5 = t0 + 4500;
  await publish(4, [entry({ id: "res-5", start: new Date(s5), end: new Date(e5), holder: { id: "bob", unix: ["bob"] } })]);
  const on = await events.waitFor((b) => b.driver === "hog" && b.action === "hogged" && b.reservation === "res-5", 20_000);
  const off = await events.waitFor((b) => b.driver === "hog" && b.action === "released" && Date.parse(b.time) >= Date.parse(on.time), 20_000);
  result.phases.boundaries = { startLateMs: Date.parse(on.time) - s5, endLateMs: Date.parse(off.time) - e5, mounts: await mounts(), alice: await sshd.login("alice", users.alice!.key) };
  result.phases.wallReal = agentLog.split("\n").filter((l) => l.includes('"action":"wall"')).map((l) => { const e = JSON.parse(l).event; return { ok: e.ok, message: e.message }; });
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = (e as Error).stack ?? String(e);
} finally {
  result.agentLogTail = agentLog.slice(-4000);
  result.sshdLogTail = sshd.output().slice(-3000);
  agent?.kill("SIGTERM");
  await sleep(300);
  await events.client.endAsync().catch(() => {});
  await pub.endAsync().catch(() => {});
  await sshd.stop();
  await broker.stop();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}
