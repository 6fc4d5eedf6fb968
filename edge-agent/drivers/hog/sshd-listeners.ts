import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * The processes of `binary` (sshd) that listen for connections, as seen
 * from this process: same mount namespace (an sshd in another one, a
 * container's, reads another configuration), a TCP socket in LISTEN state in
 * its own network namespace's tables. Sessions (sshd's per-connection
 * children, `sshd -i` from an inetd-style socket unit) hold no listening
 * socket and do not count; neither does systemd holding ssh.socket for an
 * sshd it has not started yet. None at all means every sshd that starts
 * from now reads the configuration as it is on disk.
 */
export function sshdListeners(binary: string): number[] {
  const want = resolveBinary(binary);
  if (want === undefined) return [];
  const ours = linkOr("/proc/self/ns/mnt");
  const out: number[] = [];
  for (const name of readdirOr("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const exe = linkOr(`/proc/${name}/exe`);
    // A binary replaced by a package upgrade while it runs reads "<path> (deleted)".
    if (exe === undefined || exe.replace(/ \(deleted\)$/, "") !== want) continue;
    if (linkOr(`/proc/${name}/ns/mnt`) !== ours) continue;
    if (listeningAmong(Number(name), sockets(Number(name)))) out.push(Number(name));
  }
  return out;
}

/** Inodes of the sockets process `pid` holds (one readdir of /proc/<pid>/fd; the TCP tables cost milliseconds to read). */
export function sockets(pid: number): Set<number> {
  const held = new Set<number>();
  for (const fd of readdirOr(`/proc/${pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(linkOr(`/proc/${pid}/fd/${fd}`) ?? "");
    if (m) held.add(Number(m[1]));
  }
  return held;
}

/** Whether one of `inodes` is a TCP socket in LISTEN state, in the tables of `pid`'s own network namespace. */
export function listeningAmong(pid: number, inodes: ReadonlySet<number>): boolean {
  if (inodes.size === 0) return false;
  for (const table of ["tcp", "tcp6"]) {
    let text = "";
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(Number(f[9]))) return true; // 0A: LISTEN
    }
  }
  return false;
}

/** A path as the kernel names a running binary: absolute, symlinks resolved; a bare name through PATH and sbin, as execFile finds it. */
function resolveBinary(binary: string): string | undefined {
  const dirs = binary.includes("/") ? [""] : [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    const p = dir ? join(dir, binary) : binary;
    try {
      if (statSync(p).isFile()) return realpathSync(p);
    } catch {
      // not here
    }
  }
  return undefined;
}

function linkOr(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

function readdirOr(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
