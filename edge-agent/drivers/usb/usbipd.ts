import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** Is a usbipd process running? (Looks for its comm in /proc; `procRoot` for tests.) */
export async function usbipdRunning(procRoot = "/proc"): Promise<boolean> {
  let pids: string[];
  try {
    pids = (await readdir(procRoot)).filter((n) => /^\d+$/.test(n));
  } catch {
    return false;
  }
  for (const pid of pids) {
    const comm = await readFile(join(procRoot, pid, "comm"), "utf8").catch(() => "");
    if (comm.trim() === "usbipd") return true;
  }
  return false;
}
