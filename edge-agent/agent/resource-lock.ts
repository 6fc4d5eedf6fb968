import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { LabhogError } from "../../calendar/errors.ts";

/** Another agent (or another copy of this one) already serves the resource on this host. */
export class ResourceLockedError extends LabhogError {
  constructor(resource: string, holder: { agent: string; pid: number }) {
    super("resource-locked", 409, `resource ${resource} is already served by agent ${holder.agent} (pid ${holder.pid}); two agents must not drive one resource`, { resource, ...holder });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Local exclusion: `<stateDir>/locks/<resource>.lock` holds the agent id and
 * pid. A lock whose process is gone (crash, kill -9, reboot) is taken over;
 * a live one is refused, whatever agent id it names. Remote exclusion (two
 * hosts configured for one resource) is the broker claim, see claims.ts.
 */
/** Lock files held by this process (a second Agent in one process is refused too). */
const heldHere = new Set<string>();

export class ResourceLocks {
  private held = new Set<string>();
  constructor(private readonly stateDir: string, private readonly agent: string) {}

  private file(resource: string) {
    return join(this.stateDir, "locks", `${encodeURIComponent(resource)}.lock`);
  }

  async acquire(resource: string): Promise<void> {
    await mkdir(join(this.stateDir, "locks"), { recursive: true, mode: 0o700 });
    const f = this.file(resource);
    const me = JSON.stringify({ agent: this.agent, pid: process.pid });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(f, "wx", 0o600);
        await fh.writeFile(me);
        await fh.sync();
        await fh.close();
        this.held.add(resource);
        heldHere.add(f);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      let holder: { agent: string; pid: number } | undefined;
      try {
        holder = JSON.parse(await readFile(f, "utf8")) as { agent: string; pid: number };
      } catch {
        holder = undefined; // torn or empty: the writer died before finishing
      }
      const live = holder && (holder.pid === process.pid ? heldHere.has(f) : alive(holder.pid));
      if (holder && live) throw new ResourceLockedError(resource, holder);
      // Stale: take it over. unlink + wx again so two restarting agents cannot both win.
      await unlink(f).catch(() => {});
    }
    throw new ResourceLockedError(resource, { agent: "(unknown, lock keeps changing)", pid: 0 });
  }

  async releaseAll(): Promise<void> {
    for (const r of this.held) {
      const f = this.file(r);
      try {
        const holder = JSON.parse(await readFile(f, "utf8")) as { pid: number };
        if (holder.pid === process.pid) await unlink(f);
        heldHere.delete(f);
      } catch {
        /* already gone */
      }
    }
    this.held.clear();
  }
}
