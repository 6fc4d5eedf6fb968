import { chown, lstat, mkdir, open, realpath, rm, stat, writeFile, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ScheduleEntry } from "../../../calendar/schedule/schedule.ts";
import type { Driver, DriverContext } from "../driver.ts";
import { execOf, type Deps, type ExecFn } from "../deps.ts";
import type { HogOptions } from "../../config/agent-config.ts";
import { durationMs } from "../../config/agent-config.ts";
import { expandPattern, splitPatterns, sshdAuthorizedKeysPatterns } from "./authorized-keys-file.ts";
import { hasLoginShell, readUsers, type UnixUser } from "./passwd.ts";
import { keyPart, keysOf, restrictedLine } from "./key-lines.ts";
import { bindMount, mountCount, unmountAll } from "./mounts.ts";
import { endSessions, hasProcesses, warnUser } from "./sessions.ts";

/**
 * hog: locks SSH to the holder by bind-mounting, over every non-exempt
 * user's authorized keys file(s), a root-owned copy whose keys only run the
 * status command. The holder's file gets their own lines plus the holder
 * keys from the schedule. Bind mounts vanish on reboot, so nobody is locked
 * out for good; what is mounted is recorded (before mounting) so start-up
 * can undo it after a crash.
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
}

export interface HogDeps extends Deps {
  stateDir: string;
  /** Written into locked-out users' keys: `restrict,command="<this>"`. */
  statusCommand: string;
  /** Persist driver state now (called before any mount so a crash cannot lose one). */
  checkpoint(): Promise<void>;
}

const empty = (): HogState => ({ reservation: null, holder: null, mounts: [], stoppedUnits: [] });

export class HogDriver implements Driver {
  readonly name = "hog";
  private st: HogState = empty();
  private sessionTimer: NodeJS.Timeout | undefined;
  private readonly realExec: ExecFn;

  constructor(private readonly opts: HogOptions, private readonly deps: HogDeps) {
    this.realExec = execOf(deps);
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

  private async patterns(): Promise<string[]> {
    if (this.opts.authorizedKeysFile !== undefined) return splitPatterns(this.opts.authorizedKeysFile);
    return sshdAuthorizedKeysPatterns(this.opts, this.realExec);
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
    const home = await realpath(u.home).catch(() => u.home);
    if (real !== path && !real.startsWith(home + "/")) throw new Error(`${path} resolves outside ${u.home} (${real})`);
    return real;
  }

  async apply(entry: ScheduleEntry, ctx: DriverContext): Promise<void> {
    if (!entry.exclusive) {
      await this.release(ctx);
      ctx.emit({ action: "shared", ok: true, message: "shared reservation: announced, not hogged", holder: entry.holder.id, reservation: entry.id });
      return;
    }
    const exec = this.exec(ctx);
    const holders = new Set(entry.holder.unix);
    const users = (await readUsers(this.opts.passwdFile)).filter((u) => hasLoginShell(u) && !this.exempt(u));
    const patterns = await this.patterns();
    const dir = join(this.deps.stateDir, "hog");
    if (!ctx.simulate) await mkdir(dir, { recursive: true, mode: 0o755 });

    const missing = entry.holder.unix.filter((n) => !users.some((u) => u.name === n));
    if (missing.length) ctx.emit({ action: "holder-unknown", ok: false, message: `holder login(s) not on this host (or exempt): ${missing.join(", ")}`, holder: entry.holder.id, reservation: entry.id });

    const plan: { m: HogMount; content: string; uid: number; gid: number }[] = [];
    let locked = 0;
    for (const u of users) {
      const isHolder = holders.has(u.name);
      const paths = patterns.map((p) => expandPattern(p, u));
      let firstExisting = false;
      for (const [i, path] of paths.entries()) {
        let target: string;
        try {
          target = await this.safeTarget(path, u);
        } catch (e) {
          ctx.emit({ action: "hog-user", ok: false, message: `cannot hog ${u.name}: ${(e as Error).message}`, reservation: entry.id });
          continue;
        }
        const source = join(dir, `${u.name}.${i}.keys`);
        if (target === "missing") {
          // A holder without any keys file still gets the schedule's keys: create the first one.
          if (isHolder && i === 0 && entry.holder.keys.length && !(await anyExists(paths.slice(1)))) {
            plan.push({ m: { user: u.name, target: path, source, created: true }, content: entry.holder.keys.join("\n") + "\n", uid: u.uid, gid: u.gid });
          }
          continue;
        }
        const recorded = this.st.mounts.find((m) => m.target === target);
        const hidden = recorded && (await mountCount(target)) > 0;
        const own = hidden ? (recorded.original ?? "") : await readFile(target, "utf8").catch(() => "");
        if (isHolder) {
          const extra = firstExisting ? [] : entry.holder.keys.filter((k) => !keysOf(own).includes(k));
          firstExisting = true;
          if (extra.length === 0) continue; // own file already right: nothing to mount
          plan.push({ m: { user: u.name, target, source, original: own }, content: own.replace(/\n?$/, "\n") + extra.join("\n") + "\n", uid: u.uid, gid: u.gid });
        } else {
          const lines = own.split("\n").map(keyPart).filter((k): k is string => !!k).map((k) => restrictedLine(k, this.deps.statusCommand));
          plan.push({ m: { user: u.name, target, source, original: own }, content: lines.join("\n") + (lines.length ? "\n" : ""), uid: u.uid, gid: u.gid });
          locked++;
        }
      }
    }

    // Undo mounts that the new plan does not want (holder changed, user removed).
    const wanted = new Set(plan.map((p) => p.m.target));
    for (const m of this.st.mounts.filter((m) => !wanted.has(m.target))) await this.undoMount(m, exec, ctx);

    // Record intent before touching anything.
    this.st = { ...this.st, reservation: entry.id, holder: entry.holder.id, mounts: [...this.st.mounts.filter((m) => wanted.has(m.target)), ...plan.filter((p) => !this.st.mounts.some((m) => m.target === p.m.target)).map((p) => p.m)] };
    if (!ctx.simulate) await this.deps.checkpoint();

    let failed = 0;
    // Targets are distinct files: mount them a few at a time (mount(8) is a process per file).
    await eachLimited(plan, 6, async (p) => {
      try {
        if (ctx.simulate) {
          await exec("mount", ["--bind", p.m.source, p.m.target]);
          return;
        }
        // Rewritten in place (same inode), so an existing bind mount shows the new content at once.
        await writeFile(p.m.source, p.content, { mode: 0o644 });
        if (p.m.created && !(await anyExists([p.m.target]))) await createEmpty(p.m.target, p.uid, p.gid);
        const n = await mountCount(p.m.target);
        if (n === 0) await bindMount(exec, p.m.source, p.m.target);
      } catch (e) {
        failed++;
        ctx.emit({ action: "hog-user", ok: false, message: `cannot hog ${p.m.user} (${p.m.target}): ${(e as Error).message}`, reservation: entry.id });
      }
    });
    if (!ctx.simulate) await this.deps.checkpoint();
    ctx.emit({ action: "hogged", ok: failed === 0, message: `held by ${entry.holder.id} until ${entry.end}: ${locked} key file(s) restricted, ${plan.length - locked} holder file(s)${failed ? `, ${failed} failed` : ""}`, holder: entry.holder.id, reservation: entry.id });
    await this.stopUnits(exec, ctx);
    if (!ctx.simulate) await this.deps.checkpoint();
    this.scheduleSessionEnd(entry, users.filter((u) => !holders.has(u.name)), exec, ctx);
  }

  private scheduleSessionEnd(entry: ScheduleEntry, others: UnixUser[], exec: ExecFn, ctx: DriverContext): void {
    if (this.opts.sessionGrace === undefined || this.sessionTimer) return;
    const prior = this.st.sessions;
    if (prior?.reservation === entry.id) {
      // Restarted mid-reservation: do not warn again; finish what was started.
      if (!prior.done) this.armSessionEnd(prior.users, Math.max(0, prior.deadline - Date.now()), entry, exec, ctx);
      return;
    }
    const grace = durationMs(this.opts.sessionGrace);
    void (async () => {
      const who: string[] = [];
      for (const u of others) if (await hasProcesses(this.realExec, u.name)) who.push(u.name);
      this.st.sessions = { reservation: entry.id, deadline: Date.now() + grace, users: who, done: who.length === 0 };
      if (!ctx.simulate) await this.deps.checkpoint();
      if (!who.length) return;
      const msg = `${entry.holder.id} holds this host until ${entry.end}; your session ends in ${Math.round(grace / 1000)} s`;
      for (const name of who) {
        if (ctx.simulate) ctx.emit({ action: "would-warn", ok: true, message: `${name}: ${msg}` });
        else await warnUser(this.realExec, name, msg, ctx.log);
      }
      ctx.emit({ action: "sessions-warned", ok: true, message: `warned ${who.join(", ")}; ending in ${grace} ms`, reservation: entry.id });
      this.armSessionEnd(who, grace, entry, exec, ctx);
    })().catch((e) => ctx.log.warn("warning sessions failed", { error: e as Error }));
  }

  private armSessionEnd(who: string[], delay: number, entry: ScheduleEntry, exec: ExecFn, ctx: DriverContext): void {
    clearTimeout(this.sessionTimer);
    this.sessionTimer = setTimeout(() => {
      this.sessionTimer = undefined;
      void (async () => {
        for (const name of who) await (ctx.simulate ? exec("pkill", ["-TERM", "-u", name]) : endSessions(exec, name));
        if (this.st.sessions?.reservation === entry.id) this.st.sessions.done = true;
        if (!ctx.simulate) await this.deps.checkpoint();
        ctx.emit({ action: "sessions-ended", ok: true, message: who.join(", "), reservation: entry.id });
      })().catch((e) => ctx.emit({ action: "sessions-ended", ok: false, message: (e as Error).message }));
    }, delay);
    this.sessionTimer.unref?.();
  }

  private async stopUnits(exec: ExecFn, ctx: DriverContext): Promise<void> {
    for (const unit of this.opts.stopUnits) {
      if (this.st.stoppedUnits.includes(unit)) continue;
      try {
        await exec("systemctl", ["stop", unit], { timeout: 60_000 });
        this.st.stoppedUnits.push(unit);
        ctx.emit({ action: "unit-stopped", ok: true, message: unit });
      } catch (e) {
        ctx.emit({ action: "unit-stopped", ok: false, message: `${unit}: ${(e as Error).message}` });
      }
    }
  }

  private async undoMount(m: HogMount, exec: ExecFn, ctx: DriverContext): Promise<void> {
    try {
      if (!ctx.simulate) {
        await unmountAll(exec, m.target);
        if (m.created) {
          const s = await stat(m.target).catch(() => undefined);
          if (s && s.size === 0) await rm(m.target, { force: true });
        }
        await rm(m.source, { force: true });
      } else {
        await exec("umount", [m.target]);
      }
      this.st.mounts = this.st.mounts.filter((x) => x.target !== m.target);
    } catch (e) {
      ctx.emit({ action: "unhog-user", ok: false, message: `cannot undo ${m.target}: ${(e as Error).message}` });
    }
  }

  async release(ctx: DriverContext): Promise<void> {
    if (this.sessionTimer) clearTimeout(this.sessionTimer);
    this.sessionTimer = undefined;
    const exec = this.exec(ctx);
    const had = this.st.mounts.length > 0 || this.st.stoppedUnits.length > 0 || this.st.reservation !== null;
    await eachLimited([...this.st.mounts], 6, (m) => this.undoMount(m, exec, ctx));
    const left = this.st.mounts.length;
    const { sessions: _done, ...rest } = this.st;
    this.st = { ...rest, reservation: left ? this.st.reservation : null, holder: left ? this.st.holder : null };
    if (!ctx.simulate) await this.deps.checkpoint();
    if (had) ctx.emit({ action: "released", ok: left === 0, message: left ? `${left} mount(s) could not be undone` : "SSH open to everyone again" });
    for (const unit of [...this.st.stoppedUnits]) {
      try {
        await exec("systemctl", ["start", unit], { timeout: 60_000 });
        ctx.emit({ action: "unit-started", ok: true, message: unit });
      } catch (e) {
        ctx.emit({ action: "unit-started", ok: false, message: `${unit}: ${(e as Error).message}` });
      }
      this.st.stoppedUnits = this.st.stoppedUnits.filter((u) => u !== unit);
    }
    if (!ctx.simulate) await this.deps.checkpoint();
  }
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
