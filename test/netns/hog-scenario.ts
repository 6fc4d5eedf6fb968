/**
 * Runs INSIDE private mount+net+pid namespaces (started by
 * test/agent/hog-netns.test.ts through runScenario): real useradd'ed users,
 * a real sshd on lo, real ssh logins, a real Mosquitto, and the real agent
 * (`labhog agent`, its own process). Prints one JSON line with what happened;
 * the vitest test asserts on it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import mqtt from "mqtt";
import { startMosquitto } from "../services/mosquitto.ts";
import { agentYaml, AgentLog, entry, listen, makeStandins, schedule, sign, spawnAgent, testKey } from "../agent/helpers.ts";
import { addUser, authorize, installStatusCommand, mountsAt, privatizeFilesystem, run, setPassword, sshKey } from "./namespace.ts";
import { startSshd } from "./sshd.ts";

const W = "/run/labhog-netns";
const log = (msg: string, f: Record<string, unknown> = {}) => process.stderr.write(JSON.stringify({ scenario: msg, t: new Date().toISOString(), ...f }) + "\n");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const result: Record<string, any> = { phases: {} };

await privatizeFilesystem(W);
const keysDir = `${W}/keys`;
await mkdir(keysDir, { recursive: true });
await mkdir("/etc/labhog-test-keys", { recursive: true });

// alice, bob: keys in ~/.ssh/authorized_keys; carol: keys in /etc/labhog-test-keys/%u (second pattern); dave: admin;
// erin: ~/.ssh/authorized_keys is a symlink into her dotfiles (stow, home-manager); frank: no keys file at all yet.
const PW: Record<string, string> = { alice: "alice-pw", bob: "bob-pw", dave: "dave-pw", erin: "erin-pw" };
const users: Record<string, { home: string; key: string; pub: string }> = {};
for (const [i, name] of ["alice", "bob", "carol", "dave", "erin", "frank", "gina"].entries()) {
  const { home } = await addUser(name, 61001 + i);
  const key = `${keysDir}/${name}`;
  const pub = await sshKey(key, `${name}@test`);
  users[name] = { home, key, pub };
  if (PW[name]) await setPassword(name, PW[name]!);
  if (name === "carol") await writeFile(`/etc/labhog-test-keys/carol`, pub + "\n", { mode: 0o644 });
  else if (name === "erin") {
    await mkdir(`${home}/dotfiles/ssh`, { recursive: true, mode: 0o700 });
    await writeFile(`${home}/dotfiles/ssh/authorized_keys`, pub + "\n", { mode: 0o600 });
    await mkdir(`${home}/.ssh`, { mode: 0o700 });
    await symlink("../dotfiles/ssh/authorized_keys", `${home}/.ssh/authorized_keys`);
    await run("chown", ["-hR", `${name}:${name}`, `${home}/dotfiles`, `${home}/.ssh`]);
  } else if (name !== "frank" && name !== "gina") await authorize(name, home, [pub]);
}
const rootKey = `${keysDir}/root`;
await writeFile("/etc/labhog-test-keys/root", (await sshKey(rootKey, "root@test")) + "\n", { mode: 0o600 });
const bobLaptop = `${keysDir}/bob-laptop`;
const bobLaptopPub = await sshKey(bobLaptop, "bob@laptop");
// A key alice only adds after the lock.
const aliceNew = `${keysDir}/alice-new`;
await sshKey(aliceNew, "alice@new");
await run("chmod", ["0644", `${aliceNew}.pub`]);

// gina has no keys file: her key comes from an AuthorizedKeysCommand (a directory lookup, say).
const akc = `${W}/authorized-keys-command`;
await writeFile(akc, `#!/bin/sh\n[ "$1" = gina ] && cat ${keysDir}/gina.pub\nexit 0\n`, { mode: 0o755 });
const sshd = await startSshd(`${W}/sshd`, ".ssh/authorized_keys /etc/labhog-test-keys/%u", [`AuthorizedKeysCommand ${akc} %u`, "AuthorizedKeysCommandUser nobody"]);
const broker = await startMosquitto();
const key = await testKey("lab-key");
const standins = await makeStandins(W, ["systemctl", "tmux"], { tmux: `if (process.argv[2] === "list-clients") console.log("/dev/pts/99");` });
const statusBin = await installStatusCommand(W);
const RULE = "/run/labhog/hog/sshd.conf";
const DROP_IN = `${sshd.dropIns}/00-labhog-hog.conf`;

const stateDir = `${W}/state`;
const cfgPath = `${W}/agent.yaml`;
await writeFile(cfgPath, agentYaml({
  brokerUrl: broker.url, kid: key.kid, publicJwk: key.publicJwk, stateDir,
  resourceLines: ["{ id: host1 }"],
  extra: [
    "statusUrl: https://lab.example/status",
    "hog:",
    `  sshdConfig: ${sshd.config}`,
    "  sshdPath: /usr/sbin/sshd",
    "  admins: [dave]",
    `  statusCommand: ${statusBin} status`,
    "  stopUnits: [fake-batch.service]",
    "  sessionGrace: 4s",
    `notify: { motd: ${W}/motd.d/labhog }`,
  ].join("\n"),
}));

let agent: ChildProcess | undefined;
const agentLog = new AgentLog();
const startAgent = (): ChildProcess => spawnAgent(cfgPath, agentLog, { ...process.env, PATH: `${standins.bin}:${process.env.PATH}` });
async function killAgent(): Promise<void> {
  agent!.kill("SIGKILL");
  await new Promise((r) => agent!.once("exit", r));
}
const events = await listen(broker.url, "labhog/lab/agents/host1/events");
const pub = await mqtt.connectAsync(broker.url);
const publish = async (seq: number, entries: ReturnType<typeof entry>[]) =>
  pub.publishAsync("labhog/lab/resources/host1/schedule", await sign(schedule("host1", seq, entries), key), { qos: 1, retain: true });
/** Waits for the agent's `enforced` event after `since` matching pred. */
const enforced = (pred: (m: any) => boolean, since: number, timeoutMs = 20_000) =>
  events.waitFor((b) => b.action === "enforced" && Date.parse(b.time) >= since && pred(b), timeoutMs);
const hogEvents = (since: number) => events.messages.map((m) => m.body).filter((b: any) => b.driver === "hog" && Date.parse(b.time) >= since).map((b: any) => ({ action: b.action, ok: b.ok, message: b.message }));

const targets = ["/home/alice/.ssh/authorized_keys", "/home/alice/.ssh2/authorized_keys", "/home/bob/.ssh/authorized_keys", "/etc/labhog-test-keys/carol", "/home/dave/.ssh/authorized_keys", "/etc/labhog-test-keys/root", "/home/erin/.ssh/authorized_keys", "/home/erin/dotfiles/ssh/authorized_keys"];
const mounts = async () => Object.fromEntries(await Promise.all(targets.map(async (t) => [t, await mountsAt(t)])));
const exists = (p: string) => readFile(p, "utf8").then(() => true, () => false);
/** Every login path, each with what sshd logged for it (the reason a refusal happened). */
async function attempt(fn: () => Promise<{ code: number | null; out: string }>) {
  const m = sshd.mark();
  const r = await fn();
  await sleep(50);
  return { ...r, sshdLog: sshd.output(m).split("\n").filter((l) => /trying public key file|Failed|Accepted|not allowed|Authentications that can continue|Permission denied|Disconnected from|Connection closed by/.test(l)).map((l) => l.replace(/^debug1: /, "")).join("\n") };
}
const logins = async () => ({
  alice: await attempt(() => sshd.login("alice", users.alice!.key)),
  aliceNew: await attempt(() => sshd.login("alice", aliceNew)),
  alicePassword: await attempt(() => sshd.passwordLogin("alice", PW.alice!, "password")),
  aliceKbd: await attempt(() => sshd.passwordLogin("alice", PW.alice!, "keyboard-interactive")),
  bob: await attempt(() => sshd.login("bob", users.bob!.key)),
  bobLaptop: await attempt(() => sshd.login("bob", bobLaptop)),
  bobPassword: await attempt(() => sshd.passwordLogin("bob", PW.bob!, "password")),
  carol: await attempt(() => sshd.login("carol", users.carol!.key)),
  dave: await attempt(() => sshd.login("dave", users.dave!.key)),
  davePassword: await attempt(() => sshd.passwordLogin("dave", PW.dave!, "keyboard-interactive")),
  erin: await attempt(() => sshd.login("erin", users.erin!.key)),
  erinPassword: await attempt(() => sshd.passwordLogin("erin", PW.erin!, "password")),
  frank: await attempt(() => sshd.login("frank", users.frank!.key)),
  gina: await attempt(() => sshd.login("gina", users.gina!.key)),
  root: await attempt(() => sshd.login("root", rootKey)),
});
const sshdFiles = async () => ({ rule: await exists(RULE), dropIn: await exists(DROP_IN), dropInText: await readFile(DROP_IN, "utf8").catch(() => null) });

try {
  agent = startAgent();
  await events.waitFor((b) => b.action === "started", 30_000);
  result.phases.before = { logins: await logins(), mounts: await mounts(), files: await sshdFiles() };

  // alice is logged in with a terminal (an interactive shell) when bob's reservation starts.
  const aliceSession = { out: "", exitedAt: 0 as number, startedAt: Date.now() };
  const aliceTty = spawn("ssh", ["-tt", "-i", users.alice!.key, "-p", String(sshd.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "alice@127.0.0.1", "echo READY; exec bash --norc --noprofile -i"], { stdio: ["pipe", "pipe", "pipe"] });
  aliceTty.stdout.on("data", (b: Buffer) => (aliceSession.out += b.toString()));
  aliceTty.on("exit", () => (aliceSession.exitedAt = Date.now()));
  for (let i = 0; i < 100 && !aliceSession.out.includes("READY"); i++) await sleep(100);

  // 1. bob holds the host; the schedule adds his laptop key.
  let t0 = Date.now();
  await publish(1, [entry({ id: "res-1", start: new Date(t0 - 1000), end: new Date(t0 + 120_000), holder: { id: "bob", unix: ["bob"], keys: [bobLaptopPub] } })]);
  const hogApplied = await enforced((b) => b.reservation === "res-1", t0);
  const graceStarted = Date.now();
  // From her open session, within the grace: alice moves ~/.ssh aside and makes a new one with a new key and her old one.
  aliceTty.stdin.write(`mv ~/.ssh ~/.ssh2 && mkdir -m 700 ~/.ssh && cat ${aliceNew}.pub ${users.alice!.key}.pub > ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys && echo MOVED-$((6*7))\n`);
  for (let i = 0; i < 50 && !aliceSession.out.includes("MOVED-42"); i++) await sleep(100);
  // frank, who had no keys file at lock time, gets one now.
  await authorize("frank", users.frank!.home, [users.frank!.pub]);
  // Other users' sessions are warned, then ended after the grace; log in after that.
  const ended = await events.waitFor((b) => b.driver === "hog" && b.action === "sessions-ended" && Date.parse(b.time) >= t0, 20_000);
  for (let i = 0; i < 100 && !aliceSession.exitedAt; i++) await sleep(100);
  const warned = await events.waitFor((b) => b.driver === "hog" && b.action === "sessions-warned" && Date.parse(b.time) >= t0, 1000);
  result.phases.during = { logins: await logins(), mounts: await mounts(), enforced: hogApplied, sessionsWarned: warned, sessionsEnded: ended, files: await sshdFiles(), hogEvents: hogEvents(t0) };
  result.phases.during.aliceSession = { out: aliceSession.out, endedAfterMs: aliceSession.exitedAt ? aliceSession.exitedAt - graceStarted : null };
  result.phases.during.systemctl = (await standins.calls()).filter((c) => c.cmd === "systemctl").map((c) => c.args);
  result.phases.during.tmux = (await standins.calls()).filter((c) => c.cmd === "tmux").map((c) => c.args);
  result.phases.during.motd = await readFile(`${W}/motd.d/labhog`, "utf8").catch((e) => String(e));
  result.phases.during.lockedFile = await readFile("/home/bob/.ssh/authorized_keys", "utf8");
  result.phases.during.managedKeys = await readFile("/run/labhog/hog/keys/alice", "utf8").catch((e) => String(e));
  result.phases.during.rule = await readFile(RULE, "utf8").catch((e) => String(e));

  // 2. kill -9 mid-reservation: mounts and the sshd rule stay (that is the point); a restart must neither stack nor drop them.
  await killAgent();
  result.phases.afterKill = { mounts: await mounts(), files: await sshdFiles(), alicePassword: await attempt(() => sshd.passwordLogin("alice", PW.alice!, "password")) };
  t0 = Date.now();
  agent = startAgent();
  result.phases.restarted = { enforced: await enforced((b) => b.reservation === "res-1", t0, 30_000) };
  Object.assign(result.phases.restarted, { logins: await logins(), mounts: await mounts(), hogEvents: hogEvents(t0) });

  // 3. release through a new schedule without the reservation.
  t0 = Date.now();
  await publish(2, []);
  result.phases.released = { enforced: await enforced((b) => b.message === "free", t0) };
  Object.assign(result.phases.released, { logins: await logins(), mounts: await mounts(), files: await sshdFiles(), hogEvents: hogEvents(t0), systemctl: (await standins.calls()).filter((c) => c.cmd === "systemctl").map((c) => c.args) });

  // 4. kill -9 during a reservation that then ends while the agent is down: start-up undoes it.
  t0 = Date.now();
  await publish(3, [entry({ id: "res-3", start: new Date(t0 - 1000), end: new Date(t0 + 5000), holder: { id: "bob", unix: ["bob"] } })]);
  await enforced((b) => b.reservation === "res-3", t0);
  const lockedWhileDown = await sshd.login("alice", users.alice!.key);
  const passwordWhileDown = await sshd.passwordLogin("alice", PW.alice!, "password");
  await killAgent();
  const end3 = t0 + 5000;
  while (Date.now() < end3 + 1000) await sleep(100);
  const staleBefore = await mounts();
  t0 = Date.now();
  agent = startAgent();
  await enforced((b) => b.message === "free", t0, 30_000);
  result.phases.startupUndo = { lockedWhileDown, passwordWhileDown, staleBefore, mounts: await mounts(), files: await sshdFiles(), alice: await sshd.login("alice", users.alice!.key), alicePassword: await sshd.passwordLogin("alice", PW.alice!, "password") };

  // 5. A reboot mid-reservation: mounts and /run gone, sshd started afresh, the agent's state file still there.
  t0 = Date.now();
  await publish(4, [entry({ id: "res-4", start: new Date(t0 - 1000), end: new Date(t0 + 120_000), holder: { id: "bob", unix: ["bob"] } })]);
  await enforced((b) => b.reservation === "res-4", t0);
  const lockedBefore = await sshd.passwordLogin("alice", PW.alice!, "password");
  await killAgent();
  for (const mp of (await readFile("/proc/self/mountinfo", "utf8")).split("\n").filter(Boolean).map((l) => l.split(" ")[4]!).reverse()) {
    if (mp.startsWith("/home/") || mp.startsWith("/etc/labhog-test-keys/")) await run("umount", [mp]);
  }
  await rm("/run/labhog", { recursive: true, force: true });
  await sshd.restart();
  const stateFile = JSON.parse(await readFile(`${stateDir}/state.json`, "utf8"));
  const rebooted = { lockedBefore, stateFileHog: stateFile.resources?.host1?.drivers?.hog ?? null, mounts: await mounts(), files: await sshdFiles(), alice: await sshd.login("alice", users.alice!.key), alicePassword: await sshd.passwordLogin("alice", PW.alice!, "password"), erin: await sshd.login("erin", users.erin!.key) };
  // The agent comes back while res-4 still holds: it locks again from scratch.
  t0 = Date.now();
  agent = startAgent();
  const reEnforced = await enforced((b) => b.reservation === "res-4", t0, 30_000);
  const relocked = { enforced: reEnforced, alicePassword: await sshd.passwordLogin("alice", PW.alice!, "password"), erin: await sshd.login("erin", users.erin!.key), files: await sshdFiles(), hogEvents: hogEvents(t0) };
  t0 = Date.now();
  await publish(5, []);
  const freed = await enforced((b) => b.message === "free", t0);
  result.phases.reboot = { ...rebooted, relocked, freed, after: { mounts: await mounts(), files: await sshdFiles(), alice: await sshd.login("alice", users.alice!.key), alicePassword: await sshd.passwordLogin("alice", PW.alice!, "password"), erin: await sshd.login("erin", users.erin!.key) } };

  // 6. a reservation that starts and ends by the agent's clock.
  t0 = Date.now();
  const s5 = t0 + 1500;
  const e5 = t0 + 4500;
  await publish(6, [entry({ id: "res-5", start: new Date(s5), end: new Date(e5), holder: { id: "bob", unix: ["bob"] } })]);
  const on = await events.waitFor((b) => b.driver === "hog" && b.action === "hogged" && b.reservation === "res-5", 20_000);
  const off = await events.waitFor((b) => b.driver === "hog" && b.action === "released" && Date.parse(b.time) >= Date.parse(on.time), 20_000);
  result.phases.boundaries = { startLateMs: Date.parse(on.time) - s5, endLateMs: Date.parse(off.time) - e5, mounts: await mounts(), alice: await sshd.login("alice", users.alice!.key) };
  // 7. sessionGrace: off leaves other users' sessions alone (the agent restarted with that setting).
  agent.kill("SIGTERM");
  await new Promise((r) => agent!.once("exit", r));
  await writeFile(cfgPath, (await readFile(cfgPath, "utf8")).replace("sessionGrace: 4s", "sessionGrace: off"));
  t0 = Date.now();
  agent = startAgent();
  await enforced((b) => b.message === "free", t0, 30_000);
  const kept = { out: "", exited: false };
  const keptTty = spawn("ssh", ["-tt", "-i", users.carol!.key, "-p", String(sshd.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "carol@127.0.0.1", "echo READY; exec bash --norc --noprofile -i"], { stdio: ["pipe", "pipe", "pipe"] });
  keptTty.stdout.on("data", (b: Buffer) => (kept.out += b.toString()));
  keptTty.on("exit", () => (kept.exited = true));
  for (let i = 0; i < 100 && !kept.out.includes("READY"); i++) await sleep(100);
  t0 = Date.now();
  await publish(7, [entry({ id: "res-7", start: new Date(t0 - 1000), end: new Date(t0 + 60_000), holder: { id: "bob", unix: ["bob"] } })]);
  const offEnforced = await enforced((b) => b.reservation === "res-7", t0);
  // Longer than the 4 s grace the earlier phases used: a session that should end would be gone by now.
  await sleep(6000);
  keptTty.stdin.write("echo STILL-$((6*7))\n");
  for (let i = 0; i < 50 && !kept.out.includes("STILL-42"); i++) await sleep(100);
  result.phases.graceOff = { enforced: offEnforced, out: kept.out, exited: kept.exited, hogEvents: hogEvents(t0), carol: await sshd.login("carol", users.carol!.key) };
  t0 = Date.now();
  await publish(8, []);
  await enforced((b) => b.message === "free", t0);
  keptTty.kill("SIGTERM");

  result.phases.wallReal = agentLog.text.split("\n").filter((l) => l.includes('"action":"wall"')).map((l) => { const e = JSON.parse(l).event; return { ok: e.ok, message: e.message }; });
  result.phases.failedEvents = events.messages.map((m) => m.body).filter((b: any) => b.ok === false).map((b: any) => ({ driver: b.driver, action: b.action, message: b.message }));
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = (e as Error).stack ?? String(e);
} finally {
  result.agentLogTail = agentLog.text.slice(-6000);
  result.sshdLogTail = sshd.output().slice(-6000);
  agent?.kill("SIGTERM");
  await sleep(300);
  await events.client.endAsync().catch(() => {});
  await pub.endAsync().catch(() => {});
  await sshd.stop();
  await broker.stop();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}
