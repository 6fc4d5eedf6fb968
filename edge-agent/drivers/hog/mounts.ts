import { readFile } from "node:fs/promises";
import type { ExecFn } from "../deps.ts";

/** Mount points from /proc/self/mountinfo (octal escapes undone), in mount order. */
export async function mountPoints(mountinfo = "/proc/self/mountinfo"): Promise<string[]> {
  const text = await readFile(mountinfo, "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" ")[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

export async function mountCount(target: string): Promise<number> {
  return (await mountPoints()).filter((m) => m === target).length;
}

export async function bindMount(exec: ExecFn, source: string, target: string): Promise<void> {
  await exec("mount", ["--bind", source, target], { timeout: 10_000 });
}

/** Unmounts every layer on target (stacked mounts after a crash included). */
export async function unmountAll(exec: ExecFn, target: string): Promise<number> {
  let n = 0;
  while ((await mountCount(target)) > 0 && n < 16) {
    await exec("umount", [target], { timeout: 10_000 });
    n++;
  }
  return n;
}

/**
 * Where a bind mount of `source` is now: a user who renames the folder
 * holding the mount point (`mv ~/.ssh ~/.ssh2`) carries the mount along, and
 * it must still be undone. Matched by the mount's root (the source's path
 * inside its filesystem, mountinfo field 4) being the tail of `source`.
 */
export async function mountPointsOfSource(source: string, mountinfo = "/proc/self/mountinfo"): Promise<string[]> {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const base = source.slice(source.lastIndexOf("/"));
  return (await readFile(mountinfo, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" "))
    .filter((f) => {
      const root = unescape(f[3]!);
      return root.length > 1 && root.endsWith(base) && source.endsWith(root);
    })
    .map((f) => unescape(f[4]!));
}
