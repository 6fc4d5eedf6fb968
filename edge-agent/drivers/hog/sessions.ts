import { open } from "node:fs/promises";
import type { ExecFn } from "../deps.ts";
import type { Logger } from "../../log.ts";

/**
 * Other users' sessions while the host is held. A "session" is a user with
 * a process on a terminal: an ssh login, a console, a tmux or screen pane
 * (also detached: its panes keep their terminals). Daemons running under a
 * login account have no terminal and are left alone.
 */

/** Terminals where `user` has processes (from ps; "?" means none). */
export async function ttysOf(exec: ExecFn, user: string): Promise<string[]> {
  try {
    const { stdout } = await exec("ps", ["-u", user, "-o", "tty="], { timeout: 5000 });
    return [...new Set(stdout.split("\n").map((s) => s.trim()).filter((t) => t && t !== "?" && /^[a-z0-9/]+$/.test(t)))];
  } catch {
    return []; // ps exits 1 when the user has no processes
  }
}

/** The uids among `uids` that have a process on a terminal (one ps for all; uids, since ps cuts long names). */
export async function uidsWithTerminals(exec: ExecFn, uids: ReadonlySet<number>): Promise<Set<number>> {
  const { stdout } = await exec("ps", ["-e", "-o", "uid=,tty="], { timeout: 10_000, maxBuffer: 16 * 1024 * 1024 });
  const out = new Set<number>();
  for (const line of stdout.split("\n")) {
    const [uid, tty] = line.trim().split(/\s+/);
    if (tty && tty !== "?" && uids.has(Number(uid))) out.add(Number(uid));
  }
  return out;
}

/** The user's live processes as "pid name" (zombies are dead and cannot be signalled: not counted). */
export async function liveProcesses(exec: ExecFn, user: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await exec("ps", ["-u", user, "-o", "pid=,stat=,comm="], { timeout: 5000 }));
  } catch (e) {
    // ps: 1 = no process of that user; anything else is a failure to look, which must not read as "none".
    if ((e as { code?: unknown }).code === 1) return [];
    throw e;
  }
  return stdout.split("\n").map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 3 && !f[1]!.startsWith("Z")).map((f) => `${f[0]} ${f.slice(2).join(" ")}`);
}

/** Writes to the user's terminals directly (no `write`/shell involved). */
export async function warnUser(exec: ExecFn, user: string, message: string, log: Logger): Promise<number> {
  let n = 0;
  for (const tty of await ttysOf(exec, user)) {
    try {
      const fh = await open(`/dev/${tty}`, "a");
      await fh.write(`\r\n*** labhog: ${message} ***\r\n`);
      await fh.close();
      n++;
    } catch (e) {
      log.warn("cannot write to terminal", { user, tty, error: e as Error });
    }
  }
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function gone(exec: ExecFn, user: string, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs;
  for (;;) {
    if ((await liveProcesses(exec, user)).length === 0) return true;
    if (Date.now() >= until) return false;
    await sleep(100);
  }
}

/**
 * Ends every process of the user: loginctl when systemd-logind runs, then
 * SIGTERM, then SIGKILL for what is left after `termMs`. Throws when
 * processes survive, so the failure is reported, not assumed away.
 */
export async function endSessions(exec: ExecFn, user: string, termMs = 5000): Promise<void> {
  await exec("loginctl", ["terminate-user", user], { timeout: 10_000 }).catch(() => undefined); // absent or no logind: pkill does it
  await exec("pkill", ["-TERM", "-u", user], { timeout: 10_000 }).catch(() => undefined); // exit 1: nothing left to signal
  if (await gone(exec, user, termMs)) return;
  await exec("pkill", ["-KILL", "-u", user], { timeout: 10_000 }).catch(() => undefined);
  if (await gone(exec, user, 2000)) return;
  throw new Error(`processes of ${user} still run after SIGTERM and SIGKILL: ${(await liveProcesses(exec, user)).join(", ")}`);
}
