import { open, rename, unlink } from "node:fs/promises";
import { dirname, basename, join } from "node:path";

/**
 * Replaces `path` with `data` so that a crash at any moment leaves either
 * the old or the new content, never a torn file: write a temp file in the
 * same directory, fsync it, rename over, fsync the directory.
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, "w", mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // umask must not narrow a world-readable summary
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
