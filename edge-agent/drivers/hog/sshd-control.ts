import { mkdir, readFile, readdir, readlink, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ExecFn } from "../deps.ts";
import { dropInPath, dropInText, MARKER, ruleInForce, ruleText, SshdConfigError } from "./sshd-rule.ts";

/**
 * Installs and removes the hog's sshd rule (see sshd-rule.ts). Nothing is
 * applied that `sshd -t` rejects, and sshd is only signalled after its full
 * configuration, with the change, passed `sshd -t`: a reload with a broken
 * file would stop sshd and lock everybody out.
 */

export interface SshdControl {
  sshdPath: string;
  sshdConfig: string;
  /** Under /run: the rule, the candidate, the per-user keys files. */
  runDir: string;
  exec: ExecFn;
}

export const rulePath = (c: SshdControl): string => join(c.runDir, "sshd.conf");
export const keysDir = (c: SshdControl): string => join(c.runDir, "keys");

async function readOr(path: string): Promise<string | undefined> {
  return readFile(path, "utf8").catch(() => undefined);
}

async function sshdCheck(c: SshdControl, config: string): Promise<void> {
  try {
    await c.exec(c.sshdPath, ["-t", "-f", config], { timeout: 15_000 });
  } catch (e) {
    throw new SshdConfigError(`sshd -t -f ${config} rejects the configuration: ${(e as Error).message}`);
  }
}

/**
 * Puts the rule in force: everyone but `allowed` only gets in with a key from
 * `<runDir>/keys/<login>` (written by the caller before). `probeUser` is a
 * login the rule must match; `sshd -T -C` proves it does, so a Match block of
 * the admin's that comes first and overrides ours is found, not assumed away.
 * Returns the drop-in path (for the state file).
 */
export async function lockSshd(c: SshdControl, allowed: readonly string[], probeUser: string): Promise<{ dropIn: string; reloaded: boolean }> {
  const dropIn = await dropInPath(c.sshdConfig);
  const rule = rulePath(c);
  const want = ruleText(allowed, keysDir(c));
  const pointer = dropInText(rule);
  const [oldRule, oldPointer] = await Promise.all([readOr(rule), readOr(dropIn)]);
  if (oldPointer !== undefined && oldPointer !== pointer && !oldPointer.startsWith(MARKER)) {
    throw new SshdConfigError(`${dropIn} exists and was not written by labhog: not touching it`);
  }
  if (oldRule === want && oldPointer === pointer) {
    // Unchanged (re-apply after a restart): sshd already runs with it, unless it was restarted without it, which cannot happen while both files are there.
    return { dropIn, reloaded: false };
  }
  await mkdir(c.runDir, { recursive: true, mode: 0o755 });

  // 1. Check the candidate with the whole configuration before installing anything.
  const candidate = join(c.runDir, "sshd.conf.candidate");
  const checkMain = join(c.runDir, "sshd-check.conf");
  await writeFile(candidate, want, { mode: 0o644 });
  await writeFile(checkMain, `Include "${candidate}"\nInclude "${c.sshdConfig}"\n`, { mode: 0o644 });
  try {
    await sshdCheck(c, checkMain);
  } finally {
    await rm(checkMain, { force: true });
  }

  // 2. Install: the rule (atomic rename), then the pointer.
  await rename(candidate, rule);
  try {
    if (oldPointer !== pointer) {
      await mkdir(dirname(dropIn), { recursive: true, mode: 0o755 });
      await writeFile(`${dropIn}.labhog-tmp`, pointer, { mode: 0o644 });
      await rename(`${dropIn}.labhog-tmp`, dropIn);
    }
    // 3. The real configuration as sshd will read it: valid, and our rule wins for a locked user.
    await sshdCheck(c, c.sshdConfig);
    const { stdout } = await c.exec(c.sshdPath, ["-T", "-f", c.sshdConfig, "-C", `user=${probeUser},host=labhog-check,addr=127.0.0.1,laddr=127.0.0.1,lport=22`], { timeout: 15_000 });
    const off = ruleInForce(stdout, keysDir(c));
    if (off.length) throw new SshdConfigError(`the hog's rule is not in force for ${probeUser} (a Match block or Include earlier in ${c.sshdConfig} overrides it): ${off.join("; ")}`);
  } catch (e) {
    // Put back what was there, so a reload or restart never picks up a half-done change.
    if (oldRule === undefined) await rm(rule, { force: true });
    else await writeFile(rule, oldRule);
    if (oldPointer === undefined) await rm(dropIn, { force: true });
    throw e;
  }
  await reloadSshd(c);
  return { dropIn, reloaded: true };
}

/**
 * Removes the rule and the drop-in (only files labhog wrote), then reloads
 * sshd if anything was removed or `reload` says sshd may still hold the rule
 * (a reload that failed last time: the files are gone but sshd runs with them).
 */
export async function unlockSshd(c: SshdControl, dropIn?: string, reload = false): Promise<{ removed: boolean }> {
  const rule = rulePath(c);
  let removed = false;
  if ((await readOr(rule)) !== undefined) {
    await rm(rule, { force: true });
    removed = true;
  }
  const pointer = dropIn ?? (await dropInPath(c.sshdConfig).catch(() => undefined));
  if (pointer !== undefined && (await readOr(pointer))?.startsWith(MARKER)) {
    await rm(pointer, { force: true });
    removed = true;
  }
  await rm(keysDir(c), { recursive: true, force: true });
  await rm(join(c.runDir, "sshd.conf.candidate"), { force: true });
  if (removed || reload) {
    // Removing our files cannot break the config; if it is broken anyway (someone else's edit), a reload would stop sshd.
    await sshdCheck(c, c.sshdConfig);
    // An sshd that is not running holds no rule; it reads the config without it when it starts.
    await reloadSshd(c, { ifRunning: true });
  }
  return { removed };
}

/**
 * SIGHUP to the running sshd (found through its PidFile), then waits until
 * it listens again: sshd re-executes itself on SIGHUP and only reads its
 * configuration then. Established connections are not affected.
 */
export async function reloadSshd(c: SshdControl, o: { ifRunning?: boolean } = {}): Promise<void> {
  const { stdout } = await c.exec(c.sshdPath, ["-T", "-f", c.sshdConfig], { timeout: 15_000 });
  const pidFile = /^pidfile\s+(.+)$/im.exec(stdout)?.[1]?.trim();
  if (!pidFile || pidFile === "none") throw new SshdConfigError(`cannot reload sshd: ${c.sshdConfig} sets no PidFile`);
  const text = await readOr(pidFile);
  const pid = Number(text?.trim());
  const alive = Number.isInteger(pid) && pid > 1 && isAlive(pid);
  if (!alive && o.ifRunning) return;
  if (!alive) throw new SshdConfigError(`cannot reload sshd: no running sshd in ${pidFile}`);
  const before = await listening(pid);
  try {
    process.kill(pid, "SIGHUP");
  } catch (e) {
    throw new SshdConfigError(`cannot reload sshd (pid ${pid} from ${pidFile}): ${(e as Error).message}`);
  }
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const now = await listening(pid);
    if (now.size > 0 && [...now].some((i) => !before.has(i))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new SshdConfigError(`sshd (pid ${pid}) did not listen again within 15 s of SIGHUP: check it is still running`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Inodes of the listening TCP sockets that process `pid` holds. */
async function listening(pid: number): Promise<Set<number>> {
  const held = new Set<number>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ""));
    if (m) held.add(Number(m[1]));
  }
  const out = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of ((await readOr(table)) ?? "").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && held.has(Number(f[9]))) out.add(Number(f[9])); // 0A: LISTEN
    }
  }
  return out;
}
