import { mkdir, open, readdir, rename, rm, writeFile } from "node:fs/promises";
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

/** Every key in the files (missing files and unreadable ones count as none; oversized ones are cut). */
export async function keysIn(paths: readonly string[]): Promise<string[]> {
  const keys: string[] = [];
  for (const p of paths) {
    let text: string;
    try {
      // Opened read-only, following symlinks on purpose; only lines that parse as public keys are kept.
      const fh = await open(p, "r");
      try {
        // Sized by the file, not the cap: a megabyte zeroed per user adds up over a lab's users.
        const buf = Buffer.allocUnsafe(Math.min(MAX_BYTES, (await fh.stat()).size));
        const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
        text = buf.subarray(0, bytesRead).toString("utf8");
      } finally {
        await fh.close();
      }
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      const k = keyPart(line);
      if (k && !keys.includes(k)) keys.push(k);
    }
  }
  return keys;
}

/** Writes `<dir>/<login>` for each user (atomically) and removes files of users not listed. */
export async function writeManagedKeys(dir: string, byUser: ReadonlyMap<string, readonly string[]>, statusCommand: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await Promise.all(
    [...byUser].map(async ([name, keys]) => {
      const text = keys.map((k) => restrictedLine(k, statusCommand)).join("\n") + (keys.length ? "\n" : "");
      const tmp = join(dir, `.${name}.tmp`);
      await writeFile(tmp, text, { mode: 0o644 });
      await rename(tmp, join(dir, name));
    }),
  );
  await Promise.all((await readdir(dir)).filter((f) => !byUser.has(f)).map((f) => rm(join(dir, f), { force: true })));
}
