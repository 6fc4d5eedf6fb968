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
