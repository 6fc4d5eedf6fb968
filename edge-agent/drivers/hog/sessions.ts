import { open } from "node:fs/promises";
import type { ExecFn } from "../deps.ts";
import type { Logger } from "../../log.ts";

/** Terminals where `user` has processes (from ps; "?" means none). */
export async function ttysOf(exec: ExecFn, user: string): Promise<string[]> {
  try {
    const { stdout } = await exec("ps", ["-u", user, "-o", "tty="], { timeout: 5000 });
    return [...new Set(stdout.split("\n").map((s) => s.trim()).filter((t) => t && t !== "?" && /^[a-z0-9/]+$/.test(t)))];
  } catch {
    return []; // ps exits 1 when the user has no processes
  }
}

export async function hasProcesses(exec: ExecFn, user: string): Promise<boolean> {
  try {
    await exec("pgrep", ["-u", user], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
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

/** Ends every process of the user: loginctl when systemd-logind runs, pkill otherwise. */
export async function endSessions(exec: ExecFn, user: string): Promise<void> {
  await exec("loginctl", ["terminate-user", user], { timeout: 10_000 }).catch(() => undefined);
  await exec("pkill", ["-TERM", "-u", user], { timeout: 10_000 }).catch(() => undefined);
}
