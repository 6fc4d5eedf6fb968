import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { keyPart, restrictedLine } from "./key-lines.ts";

/**
 * The keys files sshd reads for locked-out users while the hog's sshd rule
 * is in force (`AuthorizedKeysFile <dir>/%u`): root-owned, under /run, one
 * per user, each of the user's keys restricted to the status command. They
 * are written from the user's own files at lock time, following symlinks
 * (home-manager, stow), because they are only read: a key added or a file
 * created later is never seen, and a locked-out key only shows the status.
 */

const MAX_BYTES = 1024 * 1024;

/**
 * Every key in the files (missing files and unreadable ones count as none;
 * oversized ones are cut). `known` holds texts the caller already read for
 * some of the paths (the hog's plan reads each keys file it mounts over), so
 * a file is read once per lock.
 */
export async function keysIn(paths: readonly string[], known?: ReadonlyMap<string, string>): Promise<string[]> {
  const keys: string[] = [];
  for (const p of paths) {
    let text = known?.get(p);
    if (text === undefined) {
      try {
        text = await readCapped(p);
      } catch {
        continue;
      }
    }
    for (const line of text.split("\n")) {
      const k = keyPart(line);
      if (k && !keys.includes(k)) keys.push(k);
    }
  }
  return keys;
}

async function readCapped(p: string): Promise<string> {
  // Opened read-only, following symlinks on purpose; only lines that parse as public keys are kept.
  const fh = await open(p, "r");
  try {
    // Sized by the file, not the cap: a megabyte zeroed per user adds up over a lab's users.
    const buf = Buffer.allocUnsafe(Math.min(MAX_BYTES, (await fh.stat()).size));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString("utf8");
  } finally {
    await fh.close();
  }
}

/**
 * Writes `<dir>/<login>` for each user with keys (atomically) and removes
 * every other file. `dir` is ours, under /run (a tmpfs): the calls are
 * synchronous because each takes microseconds there, while an async call
 * costs a thread-pool round trip; for 20 users that was 5-7 ms of a lock
 * (`npm run bench agent`), for a few hundred it is still a few ms.
 */
export function writeManagedKeys(dir: string, byUser: ReadonlyMap<string, readonly string[]>, statusCommand: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  // A user without keys gets no file: sshd finds no key for them either way (most of passwd: system accounts).
  const written = new Set<string>();
  for (const [name, keys] of byUser) {
    if (keys.length === 0) continue;
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, keys.map((k) => restrictedLine(k, statusCommand)).join("\n") + "\n", { mode: 0o644 });
    renameSync(tmp, join(dir, name));
    written.add(name);
  }
  for (const f of readdirSync(dir)) if (!written.has(f)) rmSync(join(dir, f), { force: true });
}
