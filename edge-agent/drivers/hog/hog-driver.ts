import { mkdirSync, writeFileSync } from "node:fs";
import { chown, lstat, mkdir, open, realpath, rm, stat, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ScheduleEntry } from "../../../calendar/schedule/schedule.ts";
import type { Driver, DriverContext } from "../driver.ts";
import { execOf, type Deps, type ExecFn } from "../deps.ts";
import type { HogOptions } from "../../config/agent-config.ts";
import { durationMs } from "../../config/agent-config.ts";
import { expandPattern, splitPatterns, SshdPatterns } from "./authorized-keys-file.ts";
import { hasLoginShell, readUsers, type UnixUser } from "./passwd.ts";
import { keyPart, keysOf, restrictedLine } from "./key-lines.ts";
import { bindMountAll, layers, pointsOfSource, readMounts, unmountEvery } from "./mounts.ts";
import { endSessions, uidsWithTerminals, warnUser } from "./sessions.ts";
import { keysIn, writeManagedKeys } from "./managed-keys.ts";
import { keysDir, lockSshd, proveRule, rulePath, unlockSshd, type SshdControl } from "./sshd-control.ts";
import { dropInPath } from "./sshd-rule.ts";
import { SshdProofs } from "./sshd-proofs.ts";

/**
 * hog: locks SSH to the holder in two layers.
 * - An sshd rule (sshd-rule.ts, under /run) lets every other user in only
 *   with a key from a root-owned file the agent writes, restricted to the
 *   status command: no password/PAM logins, no AuthorizedKeysCommand, and
 *   nothing the user creates, renames or symlinks in their home counts.
 * - Over each non-exempt user's own keys file(s) a root-owned copy is
 *   bind-mounted, whose keys only run the status command (the holder's gets
 *   the schedule's keys added). This also holds when sshd cannot take the
 *   rule (reported as a failure) and gives the holder their schedule keys.
 * Both vanish on reboot, so nobody is locked out for good; what is done is
 * recorded first, so start-up undoes it after a crash. Every failure is
 * thrown from apply/release and listed by problems().
 */

export interface HogMount {
  user: string;
  target: string;
  source: string;
  /** We created an empty target file for a holder who had none. */
  created?: boolean;
  /** The file's own content when we mounted over it (the mount hides it; re-applying after a crash needs it). */
  original?: string;
}

export interface HogState {
  reservation: string | null;
  holder: string | null;
  mounts: HogMount[];
  stoppedUnits: string[];
  /** Other users' sessions: warned once per reservation, ended at `deadline` (survives a restart). */
  sessions?: { reservation: string; deadline: number; users: string[]; done: boolean };
  /** The sshd rule is (or is being) installed; `dropIn` is the file in sshd's Include folder. */
  sshd?: { dropIn?: string };
}

export interface HogDeps extends Deps {
  stateDir: string;
  /** Written into locked-out users' keys: `restrict,command="<this>"`. */
  statusCommand: string;
  /** Persist driver state now (called before any mount so a crash cannot lose one). */
  checkpoint(): Promise<void>;
  /** Where the sshd rule and the locked users' keys files go; must be on a tmpfs (gone on reboot). Default /run/labhog/hog. */
  runDir?: string;
  /** sshd's privilege separation folder, made when missing. Default /run/sshd (Debian, Ubuntu). */
  privsepDir?: string;
  /** How long ended sessions get between SIGTERM and SIGKILL. Default 5 s. */
  sessionTermMs?: number;
}

const empty = (): HogState => ({ reservation: null, holder: null, mounts: [], stoppedUnits: [] });

export class HogDriver implements Driver {
  readonly name = "hog";
  private st: HogState = empty();
  private sessionTimer: NodeJS.Timeout | undefined;
  private readonly realExec: ExecFn;
  /** From the last apply/release. */
  private lastProblems: string[] = [];
  /** From ending sessions after the grace (runs later than apply). */
  private sessionProblems: string[] = [];
  /** What sshd proved about the rule in earlier locks, so the next lock of the same shape only installs and reloads. */
  private readonly proofs = new SshdProofs();

  /** AuthorizedKeysFile as sshd resolves it, asked once per configuration. */
  private readonly sshdPatterns: SshdPatterns;

  constructor(private readonly opts: HogOptions, private readonly deps: HogDeps) {
    this.realExec = execOf(deps);
    this.sshdPatterns = new SshdPatterns({ ...opts, privsepDir: deps.privsepDir ?? "/run/sshd" }, this.realExec, async () => new Set([rulePath(this.sshd), ...(await dropInPath(opts.sshdConfig).then((p) => [p], () => []))]));
  }

  problems(): string[] {
    return [...this.lastProblems, ...this.sessionProblems];
  }

  private get sshd(): SshdControl {
    return { sshdPath: this.opts.sshdPath, sshdConfig: this.opts.sshdConfig, runDir: this.deps.runDir ?? "/run/labhog/hog", privsepDir: this.deps.privsepDir ?? "/run/sshd", exec: this.realExec, proofs: this.proofs };
  }

  state(): HogState {
    return structuredClone(this.st);
  }

  async restore(saved: unknown): Promise<void> {
    const s = saved as Partial<HogState> | undefined;
    if (s && Array.isArray(s.mounts)) this.st = { ...empty(), ...s, mounts: s.mounts, stoppedUnits: s.stoppedUnits ?? [] };
  }

  private exec(ctx: DriverContext): ExecFn {
    if (!ctx.simulate) return this.realExec;
    return async (file, args) => {
      ctx.emit({ action: "would-run", ok: true, message: [file, ...args].join(" ") });
      return { stdout: "", stderr: "" };
    };
  }

  /** `ctx.simulate`: sshd is asked all the same (it only reads), but nothing is made on the host for it. */
  private async patterns(ctx: DriverContext): Promise<string[]> {
    if (this.opts.authorizedKeysFile !== undefined) return splitPatterns(this.opts.authorizedKeysFile);
    return this.sshdPatterns.get({ prepare: !ctx.simulate });
  }

  private exempt(u: UnixUser): boolean {
    return u.uid === 0 || this.opts.admins.includes(u.name) || this.opts.exemptUsers.includes(u.name);
  }

  /** The target path if it is safe to mount over: a regular file reached without leaving its expected place. */
  private async safeTarget(path: string, u: UnixUser): Promise<"missing" | string> {
    let st;
    try {
      st = await lstat(path);
    } catch {
      return "missing";
    }
    if (!st.isFile()) throw new Error(`${path} is not a regular file (a symlink cannot be hogged safely)`);
    const real = await realpath(path);
    if (real === path) return real;
    // Only a path through a symlink needs the home's own real path to compare with.
    const home = await realpath(u.home).catch(() => u.home);
    if (!real.startsWith(home + "/")) throw new Error(`${path} resolves outside ${u.home} (${real})`);
    return real;
  }

  async apply(entry: ScheduleEntry, ctx: DriverContext): Promise<void> {
    if (!entry.exclusive) {
      await this.release(ctx);
      ctx.emit({ action: "shared", ok: true, message: "shared reservation: announced, not hogged", holder: entry.holder.id, reservation: entry.id });
      return;
    }
    const problems: string[] = [];
    const problem = (action: string, message: string) => {
      problems.push(message);
      ctx.emit({ action, ok: false, message, holder: entry.holder.id, reservation: entry.id });
    };
    const exec = this.exec(ctx);
    const holders = new Set(entry.holder.unix);
    const all = await readUsers(this.opts.passwdFile);
    const users = all.filter((u) => hasLoginShell(u) && !this.exempt(u));
    const patterns = await this.patterns(ctx);
    const dir = join(this.deps.stateDir, "hog");
    if (!ctx.simulate) mkdirSync(dir, { recursive: true, mode: 0o755 });

    // Worth a note, not a failure: the others are locked out all the same (an admin holder is in `all` and fine).
    const missing = entry.holder.unix.filter((n) => !all.some((u) => u.name === n));
    if (missing.length) ctx.emit({ action: "holder-unknown", ok: true, message: `note: the holder's login(s) ${missing.join(", ")} are not in ${this.opts.passwdFile}; everyone else is locked out all the same`, holder: entry.holder.id, reservation: entry.id });

    // Two layers, made at the same time: the bind mounts over the users' own keys files (one mount(8)
    // process) and the sshd rule (sshd re-executes itself to read it). `hogged` waits for both.
    // 1. What to mount. mountinfo read once, not per file.
    const mountedNow = ctx.simulate ? new Map<string, number>() : layers(await readMounts());
    // Users are planned concurrently (each only reads its own files), in passwd order in the result.
    type Planned = { m: HogMount; content: string; uid: number; gid: number; restricted?: true };
    // What each keys file holds (its original when mounted over), read once: the sshd rule's keys files are made from it too.
    const texts = new Map<string, string>();
    const perUser = await Promise.all(
      users.map(async (u) => {
        const mine: Planned[] = [];
        const isHolder = holders.has(u.name);
        const paths = patterns.map((p) => expandPattern(p, u));
        let firstExisting = false;
        for (const [i, path] of paths.entries()) {
          let target: string;
          try {
            target = await this.safeTarget(path, u);
          } catch (e) {
            // Not mountable (a symlink from a dotfile manager, or outside the home): for others the sshd rule
            // covers it; the holder's schedule keys cannot be added to it.
            if (isHolder) problem("hog-user", `cannot add the schedule's keys for ${u.name}: ${(e as Error).message}`);
            else ctx.emit({ action: "hog-user", ok: true, message: `${u.name}: ${(e as Error).message}; not mounted over, the sshd rule locks it`, reservation: entry.id });
            continue;
          }
          const source = join(dir, `${u.name}.${i}.keys`);
          if (target === "missing") {
            texts.set(path, "");
            // A holder without any keys file still gets the schedule's keys: create the first one.
            if (isHolder && i === 0 && entry.holder.keys.length && !(await anyExists(paths.slice(1)))) {
              mine.push({ m: { user: u.name, target: path, source, created: true }, content: entry.holder.keys.join("\n") + "\n", uid: u.uid, gid: u.gid });
            }
            continue;
          }
          const recorded = this.st.mounts.find((m) => m.target === target);
          const hidden = recorded && (mountedNow.get(target) ?? 0) > 0;
          const own = hidden ? (recorded.original ?? "") : await readFile(target, "utf8").catch(() => "");
          texts.set(path, own);
          if (isHolder) {
            const extra = firstExisting ? [] : entry.holder.keys.filter((k) => !keysOf(own).includes(k));
            firstExisting = true;
            if (extra.length === 0) continue; // own file already right: nothing to mount
            mine.push({ m: { user: u.name, target, source, original: own }, content: own.replace(/\n?$/, "\n") + extra.join("\n") + "\n", uid: u.uid, gid: u.gid });
          } else {
            const lines = own.split("\n").map(keyPart).filter((k): k is string => !!k).map((k) => restrictedLine(k, this.deps.statusCommand));
            mine.push({ m: { user: u.name, target, source, original: own }, content: lines.join("\n") + (lines.length ? "\n" : ""), uid: u.uid, gid: u.gid, restricted: true });
          }
        }
        return mine;
      }),
    );
    const plan = perUser.flat();
    const restricted = plan.filter((p) => p.restricted).length;

    // Undo mounts that the new plan does not want (holder changed, user removed).
    const wanted = new Set(plan.map((p) => p.m.target));
    for (const err of await this.undoMounts(this.st.mounts.filter((m) => !wanted.has(m.target)), exec, ctx)) problem("unhog-user", err);

    // Record intent before touching anything: the mounts, and the sshd rule (release removes whatever part of it exists).
    // A recorded target keeps `created`; its `original` is what the plan just read (the file may have been replaced).
    const again = (p: (typeof plan)[number]) => ({ ...p.m, created: p.m.created ?? this.st.mounts.find((m) => m.target === p.m.target)?.created });
    this.st = { ...this.st, reservation: entry.id, holder: entry.holder.id, mounts: [...this.st.mounts.filter((m) => !wanted.has(m.target)), ...plan.map(again)] };
    if (!ctx.simulate) {
      this.st.sshd = { ...this.st.sshd };
      await this.deps.checkpoint();
    }

    // 2. The sshd rule first: it closes passwords, PAM, keys commands and every file the user controls, and sshd
    // takes longest to be back (it re-executes itself); its keys come from the texts the plan read.
    const locked = all.filter((u) => !this.exempt(u) && !holders.has(u.name));
    const ruled = await this.lockSshd(entry, all, locked, patterns, texts, ctx, problem);

    // 3. While sshd re-executes: the files to mount, then one mount(8) for all of them.
    let failed = 0;
    const ready: typeof plan = [];
    await eachLimited(plan, 16, async (p) => {
      try {
        if (ctx.simulate) {
          await exec("mount", ["--bind", p.m.source, p.m.target]);
          return;
        }
        // Rewritten in place (same inode), so an existing bind mount shows the new content at once. Synchronous: a
        // small file in our own state folder takes microseconds, an async write a thread-pool round trip.
        writeFileSync(p.m.source, p.content, { mode: 0o644 });
        if (p.m.created && !(await anyExists([p.m.target]))) await createEmpty(p.m.target, p.uid, p.gid);
        ready.push(p);
      } catch (e) {
        failed++;
        problem("hog-user", `cannot hog ${p.m.user} (${p.m.target}): ${(e as Error).message}`);
      }
    });
    // One mount(8) for all of them (a process per file cost ~4 ms each); targets already mounted on are skipped.
    const why = ready.length ? await bindMountAll(exec, ready.map((p) => p.m), join(dir, "fstab")).catch((e: Error) => new Map(ready.map((p) => [p.m.target, e.message]))) : new Map<string, string>();
    for (const p of ready) {
      const w = why.get(p.m.target);
      if (w === undefined) continue;
      failed++;
      problem("hog-user", `cannot hog ${p.m.user} (${p.m.target}): ${w}`);
    }
    // Nothing in the state changed since the intent was recorded (the drop-in's path goes with the next checkpoint).
    const inForce = await ruled.inForce;
    ctx.emit({ action: "hogged", ok: problems.length === 0, message: `held by ${entry.holder.id} until ${entry.end}: ${restricted} key file(s) restricted, ${plan.length - restricted} holder file(s)${failed ? `, ${failed} failed` : ""}${inForce ? ", sshd rule in force" : ", NO sshd rule"}`, holder: entry.holder.id, reservation: entry.id });
    const stoppedBefore = this.st.stoppedUnits.length;
    for (const p of await this.stopUnits(exec, ctx)) problems.push(p);
    // A unit stopped must be on record before the next driver runs (a crash then must not leave it stopped for good);
    // anything else is saved by the runner as soon as apply returns or throws (resource-runner.ts).
    if (!ctx.simulate && this.st.stoppedUnits.length !== stoppedBefore) await this.deps.checkpoint();
    this.scheduleSessionEnd(entry, users.filter((u) => !holders.has(u.name)), exec, ctx);
    this.lastProblems = problems;
    if (problems.length) throw new Error(`hog not fully in force: ${problems.join("; ")}`);
  }

  /**
   * Writes the locked users' keys files, installs the sshd rule (checked, or
   * proven before for this shape) and signals sshd. `inForce` settles, never
   * rejecting, once sshd listens again with the rule: true when it is in
   * force (or would be, simulated); a failure is reported through `problem`.
   */
  private async lockSshd(entry: ScheduleEntry, all: UnixUser[], locked: UnixUser[], patterns: string[], texts: ReadonlyMap<string, string>, ctx: DriverContext, problem: (action: string, message: string) => void): Promise<{ inForce: Promise<boolean> }> {
    const c = this.sshd;
    const spared = this.spared(entry, all, locked);
    if (ctx.simulate) {
      ctx.emit({ action: "would-lock-sshd", ok: true, message: `only keys from ${keysDir(c)}/%u, restricted to the status command, for everyone but ${spared.join(", ")}` });
      return { inForce: Promise.resolve(true) };
    }
    const failed = (e: unknown) => {
      // st.sshd stays set: release (or the retry) removes whatever part of it exists.
      problem("sshd-locked", `sshd rule not applied (password, keyboard-interactive and new keys files stay open): ${(e as Error).message}`);
      return false;
    };
    try {
      const byUser = new Map<string, string[]>();
      await Promise.all(
        locked.map(async (u) => {
          // `texts` holds a mounted-over file's original, so a key hidden by our own mount still counts.
          byUser.set(u.name, await keysIn(patterns.map((p) => expandPattern(p, u)), texts));
        }),
      );
      // Recorded in the state (apply's checkpoint) before this.
      writeManagedKeys(keysDir(c), byUser, this.deps.statusCommand);
      const { dropIn, reloaded, idle, checked, inForce } = await lockSshd(c, spared, probeOf(locked));
      return {
        inForce: inForce.then(() => {
          // Persisted with the next checkpoint; a crash before it still finds the drop-in through sshd_config.
          this.st.sshd = { dropIn };
          if (reloaded) ctx.emit({ action: "sshd-locked", ok: true, message: `${dropIn}: only restricted keys for everyone but ${spared.join(", ")}; sshd reloaded${checked ? "" : " (configuration as sshd checked it before)"}`, reservation: entry.id });
          else if (idle) ctx.emit({ action: "sshd-locked", ok: true, message: `${dropIn}: only restricted keys for everyone but ${spared.join(", ")}; no sshd is running: the next one to start reads the rule`, reservation: entry.id });
          return true;
        }, failed),
      };
    } catch (e) {
      return { inForce: Promise.resolve(failed(e)) };
    }
  }

  /** Who the rule spares for this entry: uid 0, admins, exempt users and the holders (unless passwd says they are locked). */
  private spared(entry: ScheduleEntry, all: readonly UnixUser[], locked: readonly UnixUser[]): string[] {
    const allowed = [...new Set(["root", ...this.opts.admins, ...this.opts.exemptUsers, ...entry.holder.unix])].filter((n) => !locked.some((u) => u.name === n));
    return [...new Set([...all.filter((u) => u.uid === 0).map((u) => u.name), ...allowed])];
  }

  /**
   * A new schedule (and start-up): sshd is asked now about the rules of the
   * next exclusive bookings, in the background, so that locking at their
   * start only installs the rule and reloads sshd. Failures are left for the
   * lock, which asks sshd again and reports them.
   */
  async scheduleChanged(entries: readonly ScheduleEntry[], ctx: DriverContext): Promise<void> {
    if (ctx.simulate) return;
    const now = Date.now();
    // Not the booking running now: its lock follows at once and asks sshd itself (a proof made alongside only competes with it).
    const next = entries.filter((e) => e.exclusive && Date.parse(e.start) > now).slice(0, 3);
    if (next.length === 0) return;
    void (async () => {
      const all = await readUsers(this.opts.passwdFile);
      for (const e of next) {
        const holders = new Set(e.holder.unix);
        const locked = all.filter((u) => !this.exempt(u) && !holders.has(u.name));
        await proveRule(this.sshd, this.spared(e, all, locked), probeOf(locked));
      }
    })().catch((e) => ctx.log.debug("sshd rule not checked ahead; the lock checks it", { error: e as Error }));
  }

  private scheduleSessionEnd(entry: ScheduleEntry, others: UnixUser[], exec: ExecFn, ctx: DriverContext): void {
    if (this.opts.sessionGrace === "off" || this.sessionTimer) return;
    const prior = this.st.sessions;
    if (prior?.reservation === entry.id) {
      // Restarted mid-reservation (or apply retried): do not warn again; finish what was started.
      if (!prior.done) this.armSessionEnd(others, Math.max(0, prior.deadline - Date.now()), entry, exec, ctx);
      return;
    }
    this.sessionProblems = [];
    const grace = durationMs(this.opts.sessionGrace);
    void (async () => {
      // After the events just emitted have gone out: MQTT.js writes a packet on the next tick, and starting
      // a process blocks the event loop for a few ms (it was 2 ms of every "hogged" event's delivery).
      await new Promise((r) => setImmediate(r));
      const withTty = await uidsWithTerminals(this.realExec, new Set(others.map((u) => u.uid)));
      const who = others.filter((u) => withTty.has(u.uid)).map((u) => u.name);
      this.st.sessions = { reservation: entry.id, deadline: Date.now() + grace, users: who, done: false };
      if (!ctx.simulate) await this.deps.checkpoint();
      const msg = `${entry.holder.id} holds this host until ${entry.end}; your session ends in ${graceText(grace)}`;
      for (const name of who) {
        if (ctx.simulate) ctx.emit({ action: "would-warn", ok: true, message: `${name}: ${msg}` });
        else await warnUser(this.realExec, name, msg, ctx.log);
      }
      if (who.length) ctx.emit({ action: "sessions-warned", ok: true, message: `warned ${who.join(", ")}; ending in ${grace} ms`, reservation: entry.id });
      // Armed even when nobody is logged in now: whoever has a terminal at the deadline is ended too.
      this.armSessionEnd(others, grace, entry, exec, ctx);
    })().catch((e) => {
      this.sessionProblems = [`cannot look for other users' sessions: ${(e as Error).message}`];
      ctx.emit({ action: "sessions-warned", ok: false, message: this.sessionProblems[0], reservation: entry.id });
    });
  }

  private armSessionEnd(others: UnixUser[], delay: number, entry: ScheduleEntry, exec: ExecFn, ctx: DriverContext): void {
    clearTimeout(this.sessionTimer);
    this.sessionTimer = setTimeout(() => {
      void (async () => {
        const withTty = await uidsWithTerminals(this.realExec, new Set(others.map((u) => u.uid)));
        const warned = new Set(this.st.sessions?.reservation === entry.id ? this.st.sessions.users : []);
        const who = others.filter((u) => withTty.has(u.uid) || warned.has(u.name)).map((u) => u.name);
        const failures: string[] = [];
        for (const name of who) {
          try {
            await (ctx.simulate ? exec("pkill", ["-TERM", "-u", name]) : endSessions(exec, name, this.deps.sessionTermMs ?? 5000));
          } catch (e) {
            failures.push(`cannot end ${name}'s session: ${(e as Error).message}`);
          }
        }
        this.sessionTimer = undefined;
        if (this.st.reservation !== entry.id) return; // released meanwhile
        this.sessionProblems = failures;
        if (this.st.sessions?.reservation === entry.id) this.st.sessions.done = failures.length === 0;
        if (!ctx.simulate) await this.deps.checkpoint();
        if (failures.length) ctx.emit({ action: "sessions-ended", ok: false, message: failures.join("; "), reservation: entry.id });
        else if (who.length) ctx.emit({ action: "sessions-ended", ok: true, message: who.join(", "), reservation: entry.id });
      })().catch((e) => {
        this.sessionTimer = undefined;
        this.sessionProblems = [`cannot end other users' sessions: ${(e as Error).message}`];
        ctx.emit({ action: "sessions-ended", ok: false, message: this.sessionProblems[0], reservation: entry.id });
      });
    }, delay);
    this.sessionTimer.unref?.();
  }

  /** Returns what failed. */
  private async stopUnits(exec: ExecFn, ctx: DriverContext): Promise<string[]> {
    const failed: string[] = [];
    for (const unit of this.opts.stopUnits) {
      if (this.st.stoppedUnits.includes(unit)) continue;
      try {
        await exec("systemctl", ["stop", unit], { timeout: 60_000 });
        this.st.stoppedUnits.push(unit);
        ctx.emit({ action: "unit-stopped", ok: true, message: unit });
      } catch (e) {
        failed.push(`cannot stop ${unit}: ${(e as Error).message}`);
        ctx.emit({ action: "unit-stopped", ok: false, message: `${unit}: ${(e as Error).message}` });
      }
    }
    return failed;
  }

  /** Undoes these mounts (one umount(8) per layer depth for all of them); returns why each that failed did. */
  private async undoMounts(ms: readonly HogMount[], exec: ExecFn, ctx: DriverContext): Promise<string[]> {
    if (ms.length === 0) return [];
    const errors: string[] = [];
    const fail = (m: HogMount, why: string) => {
      const message = `cannot undo ${m.target}: ${why}`;
      ctx.emit({ action: "unhog-user", ok: false, message });
      errors.push(message);
    };
    if (ctx.simulate) {
      for (const m of ms) await exec("umount", [m.target]);
      const gone = new Set(ms.map((m) => m.target));
      this.st.mounts = this.st.mounts.filter((x) => !gone.has(x.target));
      return [];
    }
    let why: Map<string, string>;
    // Also where a mount was carried along when the user renamed a folder above the mount point.
    const moved = new Map<HogMount, string[]>();
    try {
      const now = await readMounts();
      for (const m of ms) moved.set(m, pointsOfSource(now, m.source));
      why = await unmountEvery(exec, ms.flatMap((m) => [m.target, ...moved.get(m)!]));
    } catch (e) {
      for (const m of ms) fail(m, (e as Error).message);
      return errors;
    }
    for (const m of ms) {
      const left = [m.target, ...moved.get(m)!].find((t) => why.has(t));
      if (left !== undefined) {
        fail(m, left === m.target ? why.get(left)! : `${left}: ${why.get(left)!}`);
        continue;
      }
      try {
        if (m.created) {
          const s = await stat(m.target).catch(() => undefined);
          if (s && s.size === 0) await rm(m.target, { force: true });
        }
        await rm(m.source, { force: true });
        this.st.mounts = this.st.mounts.filter((x) => x.target !== m.target);
      } catch (e) {
        fail(m, (e as Error).message);
      }
    }
    return errors;
  }

  async release(ctx: DriverContext): Promise<void> {
    if (this.sessionTimer) clearTimeout(this.sessionTimer);
    this.sessionTimer = undefined;
    this.sessionProblems = [];
    const problems: string[] = [];
    const exec = this.exec(ctx);
    const had = this.st.mounts.length > 0 || this.st.stoppedUnits.length > 0 || this.st.reservation !== null || this.st.sshd !== undefined;
    // The sshd rule first: it is what keeps passwords closed. Also when no state records it (a crash between writing and recording).
    if (ctx.simulate) {
      if (this.st.sshd) ctx.emit({ action: "would-unlock-sshd", ok: true, message: "remove the sshd rule and reload sshd" });
    } else {
      try {
        // dropIn is recorded once sshd was reloaded with the rule: until a reload without it succeeds, reload again.
        const { removed } = await unlockSshd(this.sshd, this.st.sshd?.dropIn, this.st.sshd?.dropIn !== undefined);
        const { sshd: _gone, ...rest } = this.st;
        this.st = rest;
        if (removed) ctx.emit({ action: "sshd-unlocked", ok: true, message: "sshd rule removed, sshd reloaded" });
      } catch (e) {
        const message = `cannot remove the sshd rule: ${(e as Error).message}`;
        problems.push(message);
        ctx.emit({ action: "sshd-unlocked", ok: false, message });
      }
    }
    problems.push(...(await this.undoMounts([...this.st.mounts], exec, ctx)));
    const left = this.st.mounts.length + (this.st.sshd ? 1 : 0);
    const { sessions: _done, ...rest } = this.st;
    this.st = { ...rest, reservation: left ? this.st.reservation : null, holder: left ? this.st.holder : null };
    if (!ctx.simulate) await this.deps.checkpoint();
    if (had) ctx.emit({ action: "released", ok: left === 0, message: left ? `${problems.join("; ")}` : "SSH open to everyone again" });
    for (const unit of [...this.st.stoppedUnits]) {
      try {
        await exec("systemctl", ["start", unit], { timeout: 60_000 });
        ctx.emit({ action: "unit-started", ok: true, message: unit });
        this.st.stoppedUnits = this.st.stoppedUnits.filter((u) => u !== unit);
      } catch (e) {
        // Kept in the list: the next release (retry) starts it again.
        problems.push(`cannot start ${unit} again: ${(e as Error).message}`);
        ctx.emit({ action: "unit-started", ok: false, message: `${unit}: ${(e as Error).message}` });
      }
    }
    // The units started again are saved by the runner as soon as release returns or throws (resource-runner.ts); a crash before
    // that only starts them once more.
    this.lastProblems = problems;
    if (problems.length) throw new Error(`hog not fully released: ${problems.join("; ")}`);
  }
}

/** The locked user `sshd -T -C` is asked about. */
function probeOf(locked: readonly UnixUser[]): string {
  return locked[0]?.name ?? "labhog-probe";
}

function graceText(ms: number): string {
  return ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
}

async function createEmpty(path: string, uid: number, gid: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // wx: never follows or truncates something that appeared meanwhile.
  const fh = await open(path, "wx", 0o600);
  await fh.close();
  await chown(path, uid, gid).catch(() => {});
}

async function anyExists(paths: string[]): Promise<boolean> {
  for (const p of paths) if (await lstat(p).then(() => true, () => false)) return true;
  return false;
}

async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < items.length) await fn(items[i++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
