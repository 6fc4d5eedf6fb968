import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

export interface UserLoad {
  user: string;
  uid: number;
  processes: number;
  /** CPU time of the user's live processes, seconds. */
  cpuSeconds: number;
  /** Share of one CPU since the previous sample (absent on the first). */
  cpuPercent?: number;
  rssBytes: number;
}

interface Sample {
  at: number;
  ticks: Map<number, number>;
}

/** uid → login name from a passwd file. */
export async function readPasswd(path: string): Promise<Map<number, string>> {
  const text = await readFile(path, "utf8").catch(() => "");
  const out = new Map<number, string>();
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length >= 3 && /^\d+$/.test(f[2]!)) out.set(Number(f[2]), f[0]!);
  }
  return out;
}

/**
 * Per-user CPU and memory from /proc. Keeps the previous sample so CPU can be
 * given as a rate; a process seen for the first time counts with all its CPU time.
 */
export class ProcLoad {
  private prev: Sample | undefined;
  constructor(private readonly opts: { procRoot: string; passwd: string; minUid: number; includeRoot: boolean; clockTicks?: number }) {}

  async sample(now = Date.now()): Promise<UserLoad[]> {
    const hz = this.opts.clockTicks ?? 100;
    const names = await readPasswd(this.opts.passwd);
    const pids = (await readdir(this.opts.procRoot).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n));
    const wanted = (uid: number) => uid >= this.opts.minUid || (uid === 0 && this.opts.includeRoot);
    // Most processes are system daemons. A stat of /proc/<pid> (its owner is the
    // process's effective uid) rules them out for a fraction of the CPU that reading
    // every status file costs; the few left are read, all at once.
    const owners = await Promise.all(pids.map((p) => stat(join(this.opts.procRoot, p)).then((st) => st.uid, () => undefined)));
    const candidates = pids.filter((_, i) => owners[i] !== undefined && wanted(owners[i]!));
    const read = await Promise.all(candidates.map(async (p) => {
      // A process may exit between readdir and read: skip it.
      const [status, statLine] = await Promise.all([readFile(join(this.opts.procRoot, p, "status"), "utf8").catch(() => undefined), readFile(join(this.opts.procRoot, p, "stat"), "utf8").catch(() => undefined)]);
      return { pid: Number(p), status, statLine };
    }));
    const users = new Map<number, UserLoad & { delta: number }>();
    const ticks = new Map<number, number>();
    for (const { pid, status, statLine } of read) {
      if (!status || !statLine) continue;
      // The real uid decides whose work it is (the owner above is the effective one).
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
      if (!Number.isFinite(uid) || !wanted(uid)) continue;
      const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
      // Fields after the command name, which may itself contain spaces and parentheses.
      const fields = statLine.slice(statLine.lastIndexOf(")") + 2).split(" ");
      const t = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
      ticks.set(pid, t);
      const before = this.prev?.ticks.get(pid);
      const u = users.get(uid) ?? { user: names.get(uid) ?? String(uid), uid, processes: 0, cpuSeconds: 0, rssBytes: 0, delta: 0 };
      u.processes++;
      u.cpuSeconds += t / hz;
      u.rssBytes += rssKb * 1024;
      u.delta += before === undefined ? t : Math.max(0, t - before);
      users.set(uid, u);
    }
    const elapsed = this.prev ? (now - this.prev.at) / 1000 : 0;
    this.prev = { at: now, ticks };
    return [...users.values()]
      .map(({ delta, ...u }) => ({ ...u, cpuSeconds: Math.round(u.cpuSeconds * 100) / 100, ...(elapsed > 0 ? { cpuPercent: Math.round((delta / hz / elapsed) * 1000) / 10 } : {}) }))
      .sort((a, b) => a.uid - b.uid);
  }
}
