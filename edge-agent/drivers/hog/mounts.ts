import { readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { ExecError, type ExecFn } from "../deps.ts";

/** mountinfo(5) and fstab(5) escape space, tab, newline and backslash as octal. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export interface MountInfo {
  /** The mounted path inside its filesystem (field 4): for a bind mount of a file, that file's path. */
  root: string;
  /** Where it is mounted (field 5). */
  point: string;
}

/** One read of /proc/self/mountinfo, in mount order, escapes undone. */
export async function readMounts(mountinfo = "/proc/self/mountinfo"): Promise<MountInfo[]> {
  // Synchronous: procfs, generated in memory; read at every lock.
  const text = readFileSync(mountinfo, "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" "))
    .map((f) => ({ root: unescape(f[3]!), point: unescape(f[4]!) }));
}

/** Mount points from /proc/self/mountinfo (octal escapes undone), in mount order. */
export async function mountPoints(mountinfo = "/proc/self/mountinfo"): Promise<string[]> {
  return (await readMounts(mountinfo)).map((m) => m.point);
}

export async function mountCount(target: string): Promise<number> {
  return (await mountPoints()).filter((m) => m === target).length;
}

/** How many layers are mounted on each path (a path not mounted on is absent). */
export function layers(mounts: readonly MountInfo[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const m of mounts) n.set(m.point, (n.get(m.point) ?? 0) + 1);
  return n;
}

/** A path as an fstab(5) field: space, tab, newline and backslash as octal escapes. */
export function fstabField(path: string): string {
  return path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}

export async function bindMount(exec: ExecFn, source: string, target: string): Promise<void> {
  await exec("mount", ["--bind", source, target], { timeout: 10_000 });
}

/**
 * Bind-mounts every source over its target with one mount(8) process
 * (`mount --all --fstab <generated file>`) instead of one per file. Paths go
 * through a file, never a shell. Targets already mounted on are left as they
 * are (a re-apply shows new content through the existing mount: the source is
 * rewritten in place). Returns, per target still not mounted afterwards, why.
 * `fstab` is where the generated file is written (a root-owned folder).
 */
export async function bindMountAll(exec: ExecFn, pairs: readonly { source: string; target: string }[], fstab: string): Promise<Map<string, string>> {
  const mounted = layers(await readMounts());
  const todo = pairs.filter((p) => !mounted.has(p.target));
  const failed = new Map<string, string>();
  if (todo.length === 0) return failed;
  writeFileSync(fstab, todo.map((p) => `${fstabField(p.source)} ${fstabField(p.target)} none bind 0 0\n`).join(""), { mode: 0o600 });
  let why = "";
  try {
    await exec("mount", ["--all", "--fstab", fstab], { timeout: 10_000 + 1000 * todo.length });
  } catch (e) {
    // mount -a goes on past a failing entry and exits non-zero (32, or 64 when some succeeded): mountinfo says which.
    why = outputOf(e);
  } finally {
    await rm(fstab, { force: true });
  }
  const now = layers(await readMounts());
  for (const p of todo) if (!now.has(p.target)) failed.set(p.target, lineAbout(why, p.target) ?? (why || "mount reported success but the target is not mounted"));
  return failed;
}

/**
 * Unmounts every layer on each target (stacked mounts after a crash included)
 * with one umount(8) process per layer depth, not one per file. Returns, per
 * target still mounted on afterwards, why.
 */
export async function unmountEvery(exec: ExecFn, targets: readonly string[]): Promise<Map<string, string>> {
  const want = [...new Set(targets)];
  let said = "";
  let before = -1;
  for (let round = 0; round < 16; round++) {
    const now = layers(await readMounts());
    const left = want.filter((t) => now.has(t));
    const total = left.reduce((s, t) => s + now.get(t)!, 0);
    if (total === 0 || total === before) break; // done, or umount could not take any more (busy): trying again won't help
    before = total;
    try {
      await exec("umount", left, { timeout: 10_000 + 1000 * left.length });
    } catch (e) {
      // umount(8) goes on past a target it cannot unmount; mountinfo says which are left.
      said = outputOf(e);
    }
  }
  const end = layers(await readMounts());
  const failed = new Map<string, string>();
  for (const t of want) if (end.has(t)) failed.set(t, lineAbout(said, t) ?? (said || "still mounted after 16 rounds of umount"));
  return failed;
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

function outputOf(e: unknown): string {
  return e instanceof ExecError && e.stderr.trim() ? e.stderr : (e as Error).message;
}

/** The line of mount(8)/umount(8) output that names `path`, if any. */
function lineAbout(output: string, path: string): string | undefined {
  return output.split("\n").find((l) => l.includes(`${path}:`))?.trim();
}

/**
 * Where a bind mount of `source` is now: a user who renames the folder
 * holding the mount point (`mv ~/.ssh ~/.ssh2`) carries the mount along, and
 * it must still be undone. Matched by the mount's root (the source's path
 * inside its filesystem, mountinfo field 4) being the tail of `source`.
 */
export async function mountPointsOfSource(source: string, mountinfo = "/proc/self/mountinfo"): Promise<string[]> {
  return pointsOfSource(await readMounts(mountinfo), source);
}

export function pointsOfSource(mounts: readonly MountInfo[], source: string): string[] {
  const base = source.slice(source.lastIndexOf("/"));
  return mounts.filter((m) => m.root.length > 1 && m.root.endsWith(base) && source.endsWith(m.root)).map((m) => m.point);
}
