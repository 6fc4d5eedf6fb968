/**
 * Runs INSIDE a private mount + pid namespace that SHARES the machine's
 * network (started by ns-host-client.ts through `unshare --mount
 * --propagation private --pid --fork --mount-proc`, no --net): real users,
 * a real sshd on a free 127.0.0.1 port and the real agent (`labhog agent`,
 * its own process) see the same mounts, while 127.0.0.1 still reaches the
 * Worker, Mosquitto and Radicale that the test runs outside.
 *
 * It answers one JSON command per stdin line with one JSON line on stdout:
 * {id, cmd, …} → {id, ok, result | error}.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { resolve } from "node:path";
import { addUser, authorize, installStatusCommand, mountsAt, privatizeFilesystem, setPassword, sshKey } from "../../netns/namespace.ts";
import { startSshd, type Sshd } from "../../netns/sshd.ts";

const repo = resolve(import.meta.dirname, "..", "..", "..");
const W = "/run/labhog-e2e";

/** This namespace shares the machine's network, which must stay untouched: no `ip link`, and the real /tmp. */
const privatize = () => privatizeFilesystem(W, { loopback: false, tmp: false });

const users: Record<string, { key: string; pub: string }> = {};
let sshd: Sshd;
let agent: ChildProcess | undefined;
let agentLog = "";
const cfgPath = `${W}/agent.yaml`;

function startAgent(): void {
  const c = spawn(process.execPath, [`${repo}/edge-agent/bin/labhog.mjs`, "agent", "--config", cfgPath], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LABHOG_LOG_LEVEL: "debug" } });
  c.stderr!.on("data", (b: Buffer) => (agentLog = (agentLog + b).slice(-200_000)));
  agent = c;
}

async function stopAgent(signal: NodeJS.Signals): Promise<void> {
  const a = agent;
  if (!a || a.exitCode !== null || a.signalCode !== null) return;
  const exited = new Promise((r) => a.once("exit", r));
  a.kill(signal);
  await exited;
}

type Cmd = { id: number; cmd: string; [k: string]: any };
const handlers: Record<string, (c: Cmd) => Promise<unknown>> = {
  async setup(c) {
    await privatize();
    await mkdir(`${W}/keys`, { recursive: true });
    for (const [i, name] of (c.users as string[]).entries()) {
      const { home } = await addUser(name, 62001 + i);
      const key = `${W}/keys/${name}`;
      const pub = await sshKey(key, `${name}@e2e`);
      await authorize(name, home, [pub]);
      await setPassword(name, `${name}-pw`);
      users[name] = { key, pub };
    }
    sshd = await startSshd(`${W}/sshd`, ".ssh/authorized_keys");
    // The forced command lives at a path without spaces that the users can run, wherever the checkout is.
    const statusCommand = `${await installStatusCommand(W)} status`;
    return { port: sshd.port, keys: Object.fromEntries(Object.entries(users).map(([u, k]) => [u, k.pub])), sshdConfig: sshd.config, stateDir: `${W}/state`, repo, statusCommand };
  },
  async writeAgentConfig(c) {
    await writeFile(cfgPath, c.yaml as string, { mode: 0o600 });
    return cfgPath;
  },
  async startAgent() {
    startAgent();
    return agent!.pid;
  },
  async killAgent() {
    await stopAgent("SIGKILL");
    return true;
  },
  async stopAgent() {
    await stopAgent("SIGTERM");
    return true;
  },
  async login(c) {
    return sshd.login(c.user, users[c.user]!.key);
  },
  /** A password login through PAM (keyboard-interactive when `kbd`). */
  async passwordLogin(c) {
    return sshd.passwordLogin(c.user, `${c.user}-pw`, c.kbd ? "keyboard-interactive" : "password");
  },
  /** A terminal session (ssh -tt) left running, so sshd records it in utmp and usage sees it. */
  async holdSession(c) {
    const u = users[c.user]!;
    const child = spawn("ssh", ["-tt", "-i", u.key, "-p", String(sshd.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", `${c.user}@127.0.0.1`, `echo READY; sleep ${Number(c.seconds) || 30}`], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    for (let i = 0; i < 100 && !out.includes("READY"); i++) await new Promise((r) => setTimeout(r, 100));
    return { ready: out.includes("READY"), out };
  },
  async mounts(c) {
    return mountsAt(`/home/${c.user}/.ssh/authorized_keys`);
  },
  async agentLog() {
    return agentLog;
  },
  async sshdLog() {
    return sshd?.output() ?? "";
  },
  async status() {
    return readFile(`${W}/state/status.json`, "utf8").then(JSON.parse).catch(() => null);
  },
  async shutdown() {
    await stopAgent("SIGTERM");
    await sshd?.stop();
    setTimeout(() => process.exit(0), 100);
    return true;
  },
};

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const c = JSON.parse(line) as Cmd;
  const h = handlers[c.cmd];
  (h ? h(c) : Promise.reject(new Error(`unknown command ${c.cmd}`))).then(
    (result) => process.stdout.write(JSON.stringify({ id: c.id, ok: true, result }) + "\n"),
    (e: Error) => process.stdout.write(JSON.stringify({ id: c.id, ok: false, error: e.stack ?? String(e) }) + "\n"),
  );
});
rl.on("close", () => {
  void stopAgent("SIGTERM").finally(() => process.exit(0));
});
