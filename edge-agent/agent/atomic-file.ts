import { open, rename, unlink } from "node:fs/promises";
import { dirname, basename, join } from "node:path";

/**
 * Replaces `path` with `data` so that a crash at any moment leaves either
 * the old or the new content, never a torn file: write a temp file in the
 * same directory, fsync it, rename over, fsync the directory.
 * `durable: false` skips both fsyncs, for what is derived and rewritten at
 * start-up anyway (the status summary): readers still never see a torn
 * file (rename), only a power loss may lose the latest write.
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o600, o: { durable?: boolean } = {}): Promise<void> {
  const durable = o.durable ?? true;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, "w", mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // umask must not narrow a world-readable summary
    if (durable) await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  if (!durable) return;
  const dir = await open(dirname(path), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
