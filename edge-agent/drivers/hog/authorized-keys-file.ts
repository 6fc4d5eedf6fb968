import { readFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import type { ExecFn } from "../deps.ts";
import { ensurePrivsepDir } from "./privsep-dir.ts";
import { includeTargets } from "./sshd-include.ts";
import { aroundFingerprint, configFingerprint } from "./sshd-proofs.ts";
import { words } from "./sshd-rule.ts";

const sshdDefault = [".ssh/authorized_keys", ".ssh/authorized_keys2"];

/**
 * sshd's AuthorizedKeysFile patterns. `sshd -T` gives the effective value
 * (includes, defaults); when it cannot run (no host keys, not root) the
 * config file is parsed, first value wins as in sshd. Match blocks are not
 * evaluated: a per-user AuthorizedKeysFile in a Match block is not seen.
 */
export async function sshdAuthorizedKeysPatterns(opts: { sshdConfig: string; sshdPath: string }, exec: ExecFn): Promise<string[]> {
  return (await askSshd(opts, exec)) ?? parseSshdConfig(opts.sshdConfig);
}

async function askSshd(opts: { sshdConfig: string; sshdPath: string }, exec: ExecFn): Promise<string[] | undefined> {
  try {
    const { stdout } = await exec(opts.sshdPath, ["-T", "-f", opts.sshdConfig], { timeout: 10_000 });
    for (const line of stdout.split("\n")) {
      const m = /^authorizedkeysfile\s+(.+)$/i.exec(line.trim());
      if (m) return splitPatterns(m[1]!);
    }
  } catch {
    /* fall back to parsing */
  }
  return undefined;
}

/**
 * sshdAuthorizedKeysPatterns for every lock, with sshd asked once per
 * configuration: `sshd -T` is a process, and on a host whose agent.yaml
 * does not name the patterns it was most of a lock's planning (~14 ms of
 * `npm run bench system`). Its answer holds while every file sshd reads
 * for it (configFingerprint, the hog's own files left out: they only add a
 * Match block) and the sshd binary are as they were; a parsed fallback is
 * not kept, so sshd is asked again next time.
 */
export class SshdPatterns {
  #kept: { key: string; patterns: string[] } | undefined;

  constructor(
    /** privsepDir: made when missing, so that sshd can answer on a host whose sshd has not started yet (privsep-dir.ts). */
    private readonly opts: { sshdConfig: string; sshdPath: string; privsepDir?: string },
    private readonly exec: ExecFn,
    /** The hog's own files in sshd's configuration (its drop-in and rule). */
    private readonly own: () => Promise<ReadonlySet<string>>,
  ) {}

  /** `prepare`: may make sshd's privilege separation folder first (not in simulate mode). */
  async get(o: { prepare?: boolean } = {}): Promise<string[]> {
    const fp = await configFingerprint(this.opts.sshdConfig, await this.own());
    const key = fp === undefined ? undefined : `${fp}\0${await aroundFingerprint(this.opts.sshdPath, [])}`;
    if (key !== undefined && this.#kept?.key === key) return [...this.#kept.patterns];
    if (o.prepare && this.opts.privsepDir !== undefined) ensurePrivsepDir(this.opts.privsepDir);
    const asked = await askSshd(this.opts, this.exec);
    if (asked === undefined) return parseSshdConfig(this.opts.sshdConfig);
    this.#kept = key === undefined ? undefined : { key, patterns: asked };
    return [...asked];
  }
}

/**
 * The first AuthorizedKeysFile before any Match, following Include (globs
 * too: Debian's sshd_config includes sshd_config.d/*.conf) as sshd does.
 * undefined when nothing sets it along the way, "match" when a Match block
 * came first (what follows applies conditionally): sshd's default either way.
 */
async function firstSetting(path: string, depth: number): Promise<string[] | "match" | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    if (key === "match") return "match";
    if (key === "authorizedkeysfile") return splitPatterns(m[2]!);
    if (key === "include" && depth < 16) {
      for (const arg of words(m[2]!)) {
        for (const f of includeTargets(arg)?.files ?? []) {
          const found = await firstSetting(f, depth + 1);
          if (found !== undefined) return found;
        }
      }
    }
  }
  return undefined;
}

async function parseSshdConfig(path: string): Promise<string[]> {
  const found = await firstSetting(path, 0);
  return Array.isArray(found) ? found : sshdDefault;
}

export function splitPatterns(value: string): string[] {
  const out = value.trim().split(/\s+/).filter((p) => p && p.toLowerCase() !== "none");
  return out.length ? out : [];
}

/** Expands %h %u %U %% like sshd (sshd_config(5), TOKENS); relative results are relative to the home directory. */
export function expandPattern(pattern: string, user: { name: string; home: string; uid?: number }): string {
  const expanded = pattern.replace(/%(.)/g, (_, c: string) => {
    if (c === "%") return "%";
    if (c === "h") return user.home;
    if (c === "u") return user.name;
    if (c === "U" && user.uid !== undefined) return String(user.uid);
    throw new Error(`unsupported token %${c} in AuthorizedKeysFile ${pattern}`);
  });
  return isAbsolute(expanded) ? expanded : join(user.home, expanded);
}
