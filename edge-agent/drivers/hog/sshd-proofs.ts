import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { includeTargets } from "./sshd-include.ts";
import { words } from "./sshd-rule.ts";

/**
 * What `sshd -t` and `sshd -T -C` proved about the hog's rule, remembered so
 * that a lock whose rule differs from a proven one only in the allowed login
 * names is not run through sshd again. Login names are checked tokens
 * (sshd-rule.ts) that cannot change how sshd parses the Match line, so the
 * proof holds for the rule's *shape*, as long as nothing sshd reads changed:
 * - the configuration: the main file and every file it Includes (content,
 *   and which files an Include glob matches), the hog's own two files left
 *   out, since they are what is being proven;
 * - what else `sshd -t` checks: the sshd binary, the host keys, the
 *   privilege-separation folder, and the user and group databases (an
 *   admin's `Match User`/`Match Group` block is resolved through them);
 * - the probe user: `sshd -T -C user=<probe>` proves the rule wins for that
 *   user, so a proof is only reused for the same probe.
 * Anything else, or a configuration the fingerprint cannot follow (an
 * Include with a wildcard in a folder name), is checked by sshd as before.
 */

export interface Proof {
  /** sshd's PidFile (from `sshd -T`): where the running sshd is found to reload it. */
  pidFile: string;
  /** The HostKey files `sshd -T` listed: `sshd -t` fails without them. */
  hostKeys: string[];
  /** The fingerprint of what else sshd reads (`aroundFingerprint`) when the proof was made. */
  around: string;
}

/** Debian's privilege-separation folder: `sshd -t` fails without it. */
const PRIVSEP_DIR = "/run/sshd";

export class SshdProofs {
  private readonly proofs = new Map<string, Proof>();
  /** Proofs being made ahead of a lock, by key. */
  private readonly pending = new Map<string, Promise<boolean>>();

  /** Runs `make` for `key` unless it already runs; either way, its outcome. */
  making(key: string, make: () => Promise<boolean>): Promise<boolean> {
    const running = this.pending.get(key);
    if (running) return running;
    const p = make().finally(() => this.pending.delete(key));
    this.pending.set(key, p);
    return p;
  }

  /** Resolves once no proof for `key` is being made (whatever came of it). */
  async settled(key: string): Promise<void> {
    await this.pending.get(key)?.catch(() => false);
  }

  /** The proof for this key, if what else sshd reads is as it was when proven. */
  async get(key: string, sshdPath: string): Promise<Proof | undefined> {
    const p = this.proofs.get(key);
    if (!p) return undefined;
    if ((await aroundFingerprint(sshdPath, p.hostKeys)) === p.around) return p;
    this.proofs.delete(key);
    return undefined;
  }

  /** A proof whose key starts with `prefix` (any rule shape and probe) that still holds. */
  async anyFor(prefix: string, sshdPath: string): Promise<Proof | undefined> {
    for (const key of [...this.proofs.keys()]) {
      if (!key.startsWith(prefix)) continue;
      const p = await this.get(key, sshdPath);
      if (p) return p;
    }
    return undefined;
  }

  /** Remembers a proof; `around` must have been taken before sshd checked, so a change during the check is not hidden. */
  set(key: string, proof: Proof): void {
    // A host sees few rule shapes and configurations; old entries can go.
    if (this.proofs.size >= 64) this.proofs.delete(this.proofs.keys().next().value!);
    this.proofs.set(key, proof);
  }

  forget(): void {
    this.proofs.clear();
  }
}

/** The `pidfile` and `hostkey` lines of `sshd -T` output. */
export function fromSshdT(stdout: string): { pidFile?: string; hostKeys: string[] } {
  const hostKeys: string[] = [];
  let pidFile: string | undefined;
  for (const line of stdout.split("\n")) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const k = m[1]!.toLowerCase();
    if (k === "pidfile") pidFile = m[2]!.trim();
    else if (k === "hostkey") hostKeys.push(m[2]!.trim());
  }
  return { pidFile, hostKeys };
}

function statText(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.mode}:${s.uid}:${s.gid}`;
  } catch (e) {
    return `absent:${(e as NodeJS.ErrnoException).code ?? ""}`;
  }
}

/**
 * sshd's binary, host keys, privilege-separation folder, passwd and group: what `sshd -t` reads besides the configuration.
 * Synchronous, like the configuration's fingerprint: these live on the root filesystem, where sshd itself reads them
 * at every login; a stat takes microseconds there, an async one a thread-pool round trip (~0.3 ms each under load).
 */
export async function aroundFingerprint(sshdPath: string, hostKeys: readonly string[]): Promise<string> {
  const paths = [sshdPath, PRIVSEP_DIR, "/etc/passwd", "/etc/group", ...hostKeys];
  return paths.map((p) => `${p}=${statText(p)}`).join("\n");
}

/**
 * A hash of the sshd configuration as sshd would read it: `main` and every
 * file reached through `Include` (in Match blocks too), with each glob's
 * matches, leaving out `skip` (the hog's own files). Undefined when it cannot
 * be followed: then every lock is checked by sshd.
 */
export async function configFingerprint(main: string, skip: ReadonlySet<string>): Promise<string | undefined> {
  const hash = createHash("sha256");
  let files = 0;
  // Synchronous reads (see aroundFingerprint): a lock computes this on its way to signalling sshd.
  const visit = (path: string, depth: number): boolean => {
    // sshd itself refuses deeper nesting; a loop would never end.
    if (depth > 16 || ++files > 1000) return false;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      hash.update(`\0${path}\0absent:${(e as NodeJS.ErrnoException).code ?? ""}`);
      return true;
    }
    hash.update(`\0${path}\0${text.length}\0${text}`);
    for (const raw of text.split("\n")) {
      const m = /^\s*include\s*(?:=\s*|\s+)(.*)$/i.exec(raw);
      if (!m) continue;
      for (const arg of words(m[1]!)) {
        const t = includeTargets(arg, skip);
        if (!t) return false;
        if (t.glob) hash.update(`\0glob ${arg}\0${t.files.join("\0")}`);
        for (const f of t.files) if (!visit(f, depth + 1)) return false;
      }
    }
    return true;
  };
  return visit(main, 0) ? hash.digest("base64url") : undefined;
}

