import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { ExecFn } from "../deps.ts";

/** tmux servers: the default one plus every user's socket under /tmp/tmux-<uid>/. */
export async function tmuxSockets(tmpdir = "/tmp"): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [undefined];
  for (const d of await readdir(tmpdir).catch(() => [] as string[])) {
    if (!/^tmux-\d+$/.test(d)) continue;
    for (const s of await readdir(join(tmpdir, d)).catch(() => [] as string[])) out.push(join(tmpdir, d, s));
  }
  return out;
}

/**
 * One popup per attached client. The popup runs a fixed `cat <file>`: the
 * message (which contains schedule text) is in the file, never in the command.
 */
export async function tmuxPopups(exec: ExecFn, messageFile: string, title: string): Promise<number> {
  let n = 0;
  for (const sock of await tmuxSockets()) {
    const base = sock ? ["-S", sock] : [];
    let clients: string[];
    try {
      const { stdout } = await exec("tmux", [...base, "list-clients", "-F", "#{client_name}"], { timeout: 5000 });
      clients = stdout.split("\n").map((s) => s.trim()).filter(Boolean);
    } catch {
      continue; // no server on this socket
    }
    for (const c of clients) {
      try {
        await exec("tmux", [...base, "display-popup", "-c", c, "-T", title, "-w", "70", "-h", "8", `cat -- ${messageFile}`], { timeout: 5000 });
        n++;
      } catch {
        /* client went away */
      }
    }
  }
  return n;
}
