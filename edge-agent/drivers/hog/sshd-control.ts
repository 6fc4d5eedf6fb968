import { mkdirSync, readFileSync, renameSync, statSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ExecFn } from "../deps.ts";
import { ensurePrivsepDir } from "./privsep-dir.ts";
import { listeningAmong, sockets, sshdListeners } from "./sshd-listeners.ts";
import { dropInPath, dropInSite, dropInText, MARKER, ruleInForce, ruleText, SshdConfigError, standInConfig } from "./sshd-rule.ts";
import { aroundFingerprint, configFingerprint, fromSshdT, type Proof, type SshdProofs } from "./sshd-proofs.ts";

/**
 * Installs and removes the hog's sshd rule (see sshd-rule.ts). Nothing is
 * applied that `sshd -t` rejects, and sshd is only signalled after its full
 * configuration, with the change, passed `sshd -t`: a reload with a broken
 * file would stop sshd and lock everybody out. "Passed" is either sshd
 * checking it now or sshd having checked the same configuration with a rule
 * of the same shape before (sshd-proofs.ts says what "same" covers).
 */

export interface SshdControl {
  sshdPath: string;
  sshdConfig: string;
  /** Under /run: the rule, the candidate, the per-user keys files. */
  runDir: string;
  /** sshd's privilege separation folder (Debian, Ubuntu: /run/sshd), made when missing (privsep-dir.ts). */
  privsepDir: string;
  exec: ExecFn;
  /** What sshd proved in earlier locks (kept by the driver); without it every lock asks sshd. */
  proofs?: SshdProofs;
}

export const rulePath = (c: SshdControl): string => join(c.runDir, "sshd.conf");
export const keysDir = (c: SshdControl): string => join(c.runDir, "keys");

/**
 * Locks and unlocks read and write only sshd's own files, ours under /run
 * and /proc, and do so synchronously: each call takes microseconds there,
 * while an async one costs a thread-pool round trip, and a lock makes a few
 * dozen of them before sshd can start re-reading (`npm run bench agent`).
 */
function readOrSync(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** `sshd -T -C`: the settings sshd would apply to a login of `user` with `config`. */
function sshdSettingsFor(c: SshdControl, config: string, user: string): Promise<{ stdout: string }> {
  ensurePrivsepDir(c.privsepDir);
  return c.exec(c.sshdPath, ["-T", "-f", config, "-C", `user=${user},host=labhog-check,addr=127.0.0.1,laddr=127.0.0.1,lport=22`], { timeout: 15_000 });
}

async function sshdCheck(c: SshdControl, config: string): Promise<void> {
  ensurePrivsepDir(c.privsepDir);
  try {
    await c.exec(c.sshdPath, ["-t", "-f", config], { timeout: 15_000 });
  } catch (e) {
    throw new SshdConfigError(`sshd -t -f ${config} rejects the configuration: ${(e as Error).message}`);
  }
}

/** What a lock did. */
export interface Locked {
  /** The drop-in path (for the state file). */
  dropIn: string;
  /** sshd was signalled to read the changed rule. */
  reloaded: boolean;
  /** No sshd was running (none listening: socket activation before the first login, or stopped): the next one reads the rule. */
  idle?: true;
  /** sshd -t and sshd -T ran for this lock; false when a proof for the same configuration and rule shape was reused (sshd-proofs.ts). */
  checked: boolean;
  /**
   * Resolves once sshd listens again, with the rule (at once when nothing
   * changed); rejects when it does not. The caller does other work while
   * sshd re-executes and awaits this before it says the rule is in force.
   */
  inForce: Promise<void>;
}

/**
 * Puts the rule in force: everyone but `allowed` only gets in with a key from
 * `<runDir>/keys/<login>` (written by the caller before). `probeUser` is a
 * login the rule must match; `sshd -T -C` proves it does, so a Match block of
 * the admin's that comes first and overrides ours is found, not assumed away.
 * With `c.proofs`, what sshd proved for the same configuration, rule shape
 * and probe is reused instead of asking sshd again (sshd-proofs.ts).
 */
export async function lockSshd(c: SshdControl, allowed: readonly string[], probeUser: string): Promise<Locked> {
  const dropIn = await dropInPath(c.sshdConfig);
  const rule = rulePath(c);
  const want = ruleText(allowed, keysDir(c));
  const pointer = dropInText(rule);
  const [oldRule, oldPointer] = [readOrSync(rule), readOrSync(dropIn)];
  if (oldPointer !== undefined && oldPointer !== pointer && !oldPointer.startsWith(MARKER)) {
    throw new SshdConfigError(`${dropIn} exists and was not written by labhog: not touching it`);
  }
  if (oldRule === want && oldPointer === pointer) {
    // Unchanged (re-apply after a restart): sshd already runs with it, unless it was restarted without it, which cannot happen while both files are there.
    return { dropIn, reloaded: false, checked: false, inForce: Promise.resolve() };
  }
  mkdirSync(c.runDir, { recursive: true, mode: 0o755 });
  const candidate = join(c.runDir, "sshd.conf.candidate");

  // Taken before anything is checked: an admin's edit while sshd checks gives the next lock another key.
  const key = c.proofs && (await proofKey(c, dropIn, rule, pointer, allowed, probeUser));
  // A proof made ahead (proveRule) may still be under way: waiting for it is cheaper than asking sshd twice.
  if (key !== undefined) await c.proofs!.settled(key);
  const proof = key !== undefined ? await c.proofs!.get(key, c.sshdPath) : undefined;
  if (proof) {
    // sshd accepted this configuration with a rule of this shape, and it won for this probe: install and reload.
    writeFileSync(candidate, want, { mode: 0o644 });
    try {
      install(c, candidate, dropIn, pointer, oldPointer);
      return { dropIn, checked: false, ...(await reloadForLock(c, proof.pidFile)) };
    } catch (e) {
      await putBack(c, dropIn, oldRule, oldPointer);
      throw e;
    }
  }

  // 1. Check the candidate with the whole configuration before installing anything.
  const checkMain = join(c.runDir, "sshd-check.conf");
  await writeFile(candidate, want, { mode: 0o644 });
  await writeFile(checkMain, `Include "${candidate}"\nInclude "${c.sshdConfig}"\n`, { mode: 0o644 });
  try {
    await sshdCheck(c, checkMain);
  } finally {
    await rm(checkMain, { force: true });
  }

  // 2. Install: the rule (atomic rename), then the pointer.
  let pidFile: string | undefined;
  try {
    install(c, candidate, dropIn, pointer, oldPointer);
    // 3. The real configuration as sshd will read it: valid, and our rule wins for a locked user.
    await sshdCheck(c, c.sshdConfig);
    const { stdout } = await sshdSettingsFor(c, c.sshdConfig, probeUser);
    const off = ruleInForce(stdout, keysDir(c));
    if (off.length) throw new SshdConfigError(`the hog's rule is not in force for ${probeUser} (a Match block or Include earlier in ${c.sshdConfig} overrides it): ${off.join("; ")}`);
    const seen = fromSshdT(stdout);
    pidFile = checkedPidFile(c, seen.pidFile);
    if (key !== undefined) c.proofs!.set(key, { pidFile, hostKeys: seen.hostKeys, around: await aroundFingerprint(c.sshdPath, seen.hostKeys) });
  } catch (e) {
    // Put back what was there, so a reload or restart never picks up a half-done change.
    await putBack(c, dropIn, oldRule, oldPointer);
    throw e;
  }
  return { dropIn, checked: true, ...(await reloadForLock(c, pidFile)) };
}

/**
 * A lock's reload. With no sshd in the pid file and none listening anywhere
 * in this mount namespace (sshd-listeners.ts), nothing runs with the old
 * configuration and the next sshd to start reads the rule: in force as it
 * is. An sshd that listens without being the pid file's is an sshd the lock
 * cannot reach: that stays a failure, never an assumed success.
 */
async function reloadForLock(c: SshdControl, pidFile: string): Promise<Pick<Locked, "reloaded" | "idle" | "inForce">> {
  const hung = await hangUp(pidFile, { ifRunning: () => {
    const others = sshdListeners(c.sshdPath);
    if (others.length) throw new SshdConfigError(`cannot reload sshd: no running sshd in ${pidFile}, yet ${c.sshdPath} listens as pid ${others.join(", ")} (another PidFile?)`);
    return true;
  } });
  return hung ? { reloaded: true, inForce: hung.listening } : { reloaded: false, idle: true, inForce: Promise.resolve() };
}

/**
 * Asks sshd about a rule ahead of the lock that needs it (at start-up, or
 * when the schedule announces a booking), so that the lock itself only
 * installs and reloads. Nothing is installed: sshd checks a stand-in of the
 * configuration as it will be (sshd-rule.ts standInConfig), with the same
 * `sshd -t` and `sshd -T -C user=<probe>` as a lock. Returns whether a proof
 * is now held; a configuration sshd rejects proves nothing, and the lock
 * will find that out again (and report it) on its own.
 */
export async function proveRule(c: SshdControl, allowed: readonly string[], probeUser: string): Promise<boolean> {
  if (!c.proofs) return false;
  const site = await dropInSite(c.sshdConfig);
  const rule = rulePath(c);
  const key = await proofKey(c, site.path, rule, dropInText(rule), allowed, probeUser);
  if (key === undefined) return false;
  await c.proofs.settled(key);
  if (await c.proofs.get(key, c.sshdPath)) return true;
  const proofs = c.proofs;
  return proofs.making(key, async () => {
    await mkdir(c.runDir, { recursive: true, mode: 0o755 });
    const ahead = join(c.runDir, "sshd.conf.ahead");
    const standIn = join(c.runDir, "sshd-ahead.conf");
    try {
      const names = await readdir(dirname(site.path)).catch(() => [] as string[]);
      await writeFile(ahead, ruleText(allowed, keysDir(c)), { mode: 0o644 });
      await writeFile(standIn, standInConfig(site, names, ahead), { mode: 0o644 });
      await sshdCheck(c, standIn);
      const { stdout } = await sshdSettingsFor(c, standIn, probeUser);
      if (ruleInForce(stdout, keysDir(c)).length) return false;
      const seen = fromSshdT(stdout);
      if (!seen.pidFile || seen.pidFile === "none") return false;
      proofs.set(key, { pidFile: seen.pidFile, hostKeys: seen.hostKeys, around: await aroundFingerprint(c.sshdPath, seen.hostKeys) });
      return true;
    } finally {
      await Promise.all([rm(ahead, { force: true }), rm(standIn, { force: true })]);
    }
  });
}

/** The rule (atomic rename of the candidate), then the pointer in sshd's Include folder. */
function install(c: SshdControl, candidate: string, dropIn: string, pointer: string, oldPointer: string | undefined): void {
  renameSync(candidate, rulePath(c));
  if (oldPointer === pointer) return;
  mkdirSync(dirname(dropIn), { recursive: true, mode: 0o755 });
  writeFileSync(`${dropIn}.labhog-tmp`, pointer, { mode: 0o644 });
  renameSync(`${dropIn}.labhog-tmp`, dropIn);
}

async function putBack(c: SshdControl, dropIn: string, oldRule: string | undefined, oldPointer: string | undefined): Promise<void> {
  const rule = rulePath(c);
  if (oldRule === undefined) await rm(rule, { force: true });
  else await writeFile(rule, oldRule);
  if (oldPointer === undefined) await rm(dropIn, { force: true });
}

/**
 * What a proof is valid for: the configuration's fingerprint without the
 * hog's own files, the rule with its names replaced by placeholders (names
 * are checked tokens: only their number shapes the line), the pointer, and
 * the probe user. Undefined when the configuration cannot be followed.
 */
async function proofKey(c: SshdControl, dropIn: string, rule: string, pointer: string, allowed: readonly string[], probeUser: string): Promise<string | undefined> {
  const fp = await configFingerprint(c.sshdConfig, new Set([dropIn, rule]));
  if (fp === undefined) return undefined;
  const shape = ruleText([...new Set(allowed)].map((_, i) => `labhog-name-${i}`), keysDir(c));
  return [c.sshdPath, c.sshdConfig, fp, dropIn, pointer, shape, probeUser].join("\0");
}

/**
 * Removes the rule and the drop-in (only files labhog wrote), then reloads
 * sshd if anything was removed or `reload` says sshd may still hold the rule
 * (a reload that failed last time: the files are gone but sshd runs with them).
 */
export async function unlockSshd(c: SshdControl, dropIn?: string, reload = false): Promise<{ removed: boolean }> {
  const rule = rulePath(c);
  let removed = false;
  if (readOrSync(rule) !== undefined) {
    await rm(rule, { force: true });
    removed = true;
  }
  const pointer = dropIn ?? (await dropInPath(c.sshdConfig).catch(() => undefined));
  if (pointer !== undefined && readOrSync(pointer)?.startsWith(MARKER)) {
    await rm(pointer, { force: true });
    removed = true;
  }
  await rm(keysDir(c), { recursive: true, force: true });
  await rm(join(c.runDir, "sshd.conf.candidate"), { force: true });
  if (removed || reload) {
    const proof = await baseProof(c, pointer);
    if (proof) {
      // An sshd that is not running holds no rule; it reads the config without it when it starts.
      await (await hangUp(proof.pidFile, { ifRunning: true }))?.listening;
    } else {
      // Removing our files cannot break the config; if it is broken anyway (someone else's edit), a reload would stop sshd.
      await sshdCheck(c, c.sshdConfig);
      await reloadSshd(c, { ifRunning: true });
    }
  }
  return { removed };
}

/**
 * A proof that sshd checked the configuration as it is now, with a rule of
 * ours at `dropIn` (any shape): then the configuration without the rule, the
 * admin's own, passes `sshd -t` too (the rule only adds a Match block at the
 * Include), and the proof knows sshd's pid file. The unlock then only
 * signals sshd, instead of running `sshd -t` and `sshd -T` first (two
 * processes, most of an unlock's time). Any edit since changes the
 * fingerprint, and sshd is asked as before.
 */
async function baseProof(c: SshdControl, dropIn: string | undefined): Promise<Proof | undefined> {
  if (!c.proofs || dropIn === undefined) return undefined;
  const fp = await configFingerprint(c.sshdConfig, new Set([dropIn, rulePath(c)]));
  if (fp === undefined) return undefined;
  return c.proofs.anyFor([c.sshdPath, c.sshdConfig, fp, dropIn, ""].join("\0"), c.sshdPath);
}

/**
 * SIGHUP to the running sshd (found through its PidFile), then waits until
 * it listens again: sshd re-executes itself on SIGHUP and only reads its
 * configuration then. Established connections are not affected.
 */
export async function reloadSshd(c: SshdControl, o: { ifRunning?: boolean } = {}): Promise<void> {
  ensurePrivsepDir(c.privsepDir);
  const { stdout } = await c.exec(c.sshdPath, ["-T", "-f", c.sshdConfig], { timeout: 15_000 });
  const signalled = await hangUp(checkedPidFile(c, fromSshdT(stdout).pidFile), o);
  await signalled?.listening;
}

function checkedPidFile(c: SshdControl, pidFile: string | undefined): string {
  if (!pidFile || pidFile === "none") throw new SshdConfigError(`cannot reload sshd: ${c.sshdConfig} sets no PidFile`);
  return pidFile;
}

/**
 * Sends SIGHUP to the sshd in `pidFile`; `listening` settles when it listens
 * again. sshd removes its pid file on SIGHUP, re-executes, binds its
 * listeners and only then writes the pid file anew (sshd.c, after
 * server_listen), so a rewritten pid file naming the same process, which
 * holds a socket it did not hold before, is sshd listening with the new
 * configuration. The pid file's folder is watched (inotify), so the wait
 * ends when sshd is back, not at the next tick of a poll; a slow poll stays
 * for filesystems that do not report changes. Undefined when sshd does not
 * run and `ifRunning` says that is fine.
 */
async function hangUp(pidFile: string, o: { ifRunning?: boolean | (() => boolean) } = {}): Promise<{ listening: Promise<void> } | undefined> {
  const text = readOrSync(pidFile);
  const pid = Number(text?.trim());
  const alive = Number.isInteger(pid) && pid > 1 && isAlive(pid);
  if (!alive && (typeof o.ifRunning === "function" ? o.ifRunning() : o.ifRunning)) return undefined;
  if (!alive) throw new SshdConfigError(`cannot reload sshd: no running sshd in ${pidFile}`);
  const [before, held] = [fileId(pidFile), sockets(pid)];
  let changed = false;
  let wake = (): void => {};
  let watcher: FSWatcher | undefined;
  try {
    // Watching starts before the signal, so the rewrite cannot be missed.
    watcher = watch(dirname(pidFile), { persistent: false }, () => {
      changed = true;
      wake();
    });
    watcher.on("error", () => {});
  } catch {
    // Not watchable: polled.
  }
  try {
    process.kill(pid, "SIGHUP");
  } catch (e) {
    watcher?.close();
    throw new SshdConfigError(`cannot reload sshd (pid ${pid} from ${pidFile}): ${(e as Error).message}`);
  }
  const signalled = Date.now();
  const back = (): boolean => {
    const id = fileId(pidFile);
    if (id !== undefined && id !== before && Number(readOrSync(pidFile)?.trim()) === pid) return [...sockets(pid)].some((s) => !held.has(s));
    // An sshd that does not write its pid file again (a patched build) is seen listening in the kernel's socket tables instead (slower to read).
    return Date.now() - signalled > 1000 && listeningAmong(pid, new Set([...sockets(pid)].filter((s) => !held.has(s))));
  };
  const listening = (async () => {
    try {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        changed = false;
        if (back()) return;
        if (!isAlive(pid)) throw new SshdConfigError(`sshd (pid ${pid}) exited after SIGHUP instead of reading its configuration again`);
        if (changed) continue;
        await new Promise<void>((r) => {
          const t = setTimeout(r, 50);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
        wake = () => {};
      }
      throw new SshdConfigError(`sshd (pid ${pid}) did not listen again within 15 s of SIGHUP: check it is still running`);
    } finally {
      watcher?.close();
    }
  })();
  // Awaited by the caller later; not an unhandled rejection meanwhile.
  listening.catch(() => {});
  return { listening };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Which file is at `path` now: a file written anew (sshd unlinks and recreates its pid file) has another identity. */
function fileId(path: string): string | undefined {
  const s = statSync(path, { bigint: true, throwIfNoEntry: false });
  return s && `${s.dev}:${s.ino}:${s.ctimeNs}:${s.mtimeNs}`;
}

