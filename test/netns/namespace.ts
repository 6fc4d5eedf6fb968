import { execFile, execFileSync, spawn } from "node:child_process";
import { readlinkSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { promisify } from "node:util";

/**
 * Helpers to run a test scenario inside private namespaces, so REAL mounts,
 * users and an sshd never touch the machine: mount (with / made private
 * before anything is mounted), network (only lo), pid (pkill sees only the
 * namespace's processes).
 */

export const run = promisify(execFile);

const unshareArgs = ["--mount", "--propagation", "private", "--net", "--pid", "--fork", "--mount-proc"];

/** From the test: runs `node <script>` (TypeScript through tsx) in fresh namespaces; resolves with its stdout's last JSON line. */
export function runScenario(script: string, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ result: any; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn("unshare", [...unshareArgs, "--", process.execPath, "--import", "tsx", script], {
      env: { ...process.env, ...opts.env, LABHOG_HOST_MNTNS: readlinkSync("/proc/self/ns/mnt") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-200_000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 180_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").reverse().find((l) => l.startsWith("{"));
      if (!last) return reject(new Error(`scenario printed no result (exit ${code}):\n${out.slice(-5000)}\n${err.slice(-10_000)}`));
      resolve({ result: JSON.parse(last), stderr: err, code });
    });
  });
}

/**
 * These tests must run on CI, never be skipped: without root or unshare(1)
 * they fail with what is missing (the test command installs util-linux).
 */
export function requireUnshare(args: readonly string[] = unshareArgs): void {
  if (process.getuid?.() !== 0) throw new Error("this test needs root (private mount namespaces, sshd, useradd)");
  try {
    execFileSync("unshare", [...args, "--", "true"], { stdio: "pipe" });
  } catch (e) {
    throw new Error(`this test needs unshare ${args.join(" ")}: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`);
  }
}

const REPO = resolve(import.meta.dirname, "..", "..");

/**
 * A tmpfs over `dir`. When the checkout itself lives below `dir` (a CI clone
 * under /tmp or /home), it is held aside and moved back on top, so the
 * scenario can still load its own code.
 */
async function tmpfsOver(dir: string, mode: string, name: string): Promise<void> {
  const keep = REPO === dir || REPO.startsWith(`${dir}/`);
  const hold = `/run/labhog-keep-${name}`;
  if (keep) {
    await mkdir(hold, { recursive: true });
    await run("mount", ["--bind", REPO, hold]);
  }
  await run("mount", ["-t", "tmpfs", "-o", `mode=${mode}`, name, dir]);
  if (keep) {
    await mkdir(REPO, { recursive: true });
    await run("mount", ["--move", hold, REPO]);
  }
}

/**
 * Inside the namespace: refuse to run in the host's mount namespace, then give
 * the scenario private copies of what it changes: /etc (users, sshd config),
 * /home, /run, and /tmp unless `tmp: false`. `loopback: false` leaves the
 * network alone (for namespaces that share the machine's network).
 */
export async function privatizeFilesystem(work = "/run/labhog-netns", opts: { loopback?: boolean; tmp?: boolean } = {}): Promise<void> {
  const host = process.env.LABHOG_HOST_MNTNS;
  if (!host || readlinkSync("/proc/self/ns/mnt") === host) throw new Error("not in a private mount namespace: refusing to mount anything");
  if (REPO === "/run" || REPO.startsWith("/run/")) throw new Error(`the checkout ${REPO} is under /run, which the namespace replaces`);
  await run("mount", ["--make-rprivate", "/"]);
  if (opts.loopback !== false) await run("ip", ["link", "set", "lo", "up"]);
  await run("mount", ["-t", "tmpfs", "-o", "mode=0755", "labhog-run", "/run"]);
  await mkdir(`${work}/etc`, { recursive: true });
  await run("cp", ["-a", "/etc/.", `${work}/etc/`]);
  await run("mount", ["--bind", `${work}/etc`, "/etc"]);
  await tmpfsOver("/home", "0755", "labhog-home");
  if (opts.tmp !== false) await tmpfsOver("/tmp", "1777", "labhog-tmp");
  await mkdir("/run/sshd", { mode: 0o755 });
  // utmp lets sshd record sessions, so the REAL wall can reach them.
  await writeFile("/run/utmp", "");
  await chmod("/run/utmp", 0o664);
}

export async function addUser(name: string, uid: number): Promise<{ home: string }> {
  // '*' = no password, but not "locked" (sshd refuses keys for locked accounts).
  await run("useradd", ["-m", "-u", String(uid), "-U", "-s", "/bin/bash", "-p", "*", name]);
  return { home: `/home/${name}` };
}

/** A real password (through chpasswd, so PAM's pam_unix checks it like any other). */
export async function setPassword(name: string, password: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const c = spawn("chpasswd", [], { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    c.stderr!.on("data", (b: Buffer) => (err += b.toString()));
    c.on("error", reject);
    c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd for ${name} failed (${code}): ${err}`))));
    c.stdin!.end(`${name}:${password}\n`);
  });
}

/**
 * `<dir>/bin/labhog`, a root-owned wrapper that runs this checkout's CLI, for
 * the hogged users' forced command (`command="<dir>/bin/labhog status …"`).
 * sshd hands that line to the user's shell, so the checkout's path (which may
 * hold spaces) is quoted here, once, and the command line itself stays plain.
 */
export async function installStatusCommand(dir: string): Promise<string> {
  const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  await mkdir(`${dir}/bin`, { recursive: true, mode: 0o755 });
  const path = `${dir}/bin/labhog`;
  await writeFile(path, `#!/bin/sh\nexec ${sh(process.execPath)} ${sh(`${REPO}/edge-agent/bin/labhog.mjs`)} "$@"\n`, { mode: 0o755 });
  return path;
}

export async function sshKey(path: string, comment: string): Promise<string> {
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  return (await import("node:fs/promises")).readFile(`${path}.pub`, "utf8").then((s) => s.trim());
}

export async function authorize(user: string, home: string, keys: string[]): Promise<void> {
  await mkdir(`${home}/.ssh`, { recursive: true, mode: 0o700 });
  await writeFile(`${home}/.ssh/authorized_keys`, keys.join("\n") + "\n", { mode: 0o600 });
  await run("chown", ["-R", `${user}:${user}`, `${home}/.ssh`]);
}

/** Mount points of the namespace (from its own mountinfo) equal to `target`. */
export async function mountsAt(target: string): Promise<number> {
  const text = await (await import("node:fs/promises")).readFile("/proc/self/mountinfo", "utf8");
  return text.split("\n").filter((l) => l.split(" ")[4] === target).length;
}
