import { readFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";

/**
 * The sshd rule that closes every login path but a restricted key to users
 * who do not hold the host: password, keyboard-interactive (PAM), host-based,
 * GSSAPI, certificates, AuthorizedKeysCommand, and any keys file in the
 * user's home (symlinked, created later, or in a `~/.ssh` moved aside).
 * sshd reads the keys of matched users ONLY from a root-owned file the agent
 * writes under /run, so a file the user controls is never consulted.
 *
 * Where it lives, so that nothing locks anybody out for good:
 * - `<drop-in folder>/00-labhog-hog.conf` (found through the main config's
 *   `Include`) holds one line, `Include <runDir>/sshd.conf`;
 * - `<runDir>/sshd.conf` (under /run, gone on reboot) holds the Match block.
 * sshd accepts an Include that matches no file, so after a reboot, or once
 * the agent removed the /run file, the drop-in has no effect at all.
 */

export const DROP_IN_NAME = "00-labhog-hog";
/** First line of every file the hog writes into sshd's configuration: only files starting with it are ever removed. */
export const MARKER = "# Written by the labhog agent (hog driver) while the host is held; removed on release.";

/** Login names that can stand in a `Match User` list as themselves: no pattern characters (`*?!,`), spaces or quotes. */
const login = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export class SshdConfigError extends Error {
  override name = "SshdConfigError";
}

/**
 * The drop-in file for the hog, from the first `Include` in the main config
 * whose last component is a glob like `*.conf` (Debian: `Include
 * /etc/ssh/sshd_config.d/*.conf`). Without one the rule cannot be added
 * without rewriting the admin's file, which the agent never does.
 */
export async function dropInPath(mainConfig: string): Promise<string> {
  return (await dropInSite(mainConfig)).path;
}

/** Where the drop-in comes in: the main config's text, the Include's line (0-based), its arguments and which of them is the glob. */
export interface DropInSite {
  path: string;
  text: string;
  line: number;
  args: string[];
  glob: number;
}

export async function dropInSite(mainConfig: string): Promise<DropInSite> {
  let text: string;
  try {
    // Synchronous: sshd's own file on the root filesystem, read on the way to signalling sshd (sshd-control.ts readOrSync).
    text = readFileSync(mainConfig, "utf8");
  } catch (e) {
    throw new SshdConfigError(`cannot read sshd config ${mainConfig}: ${(e as Error).message}`);
  }
  for (const [n, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    if (key === "match") break; // an Include inside a Match block would only apply conditionally
    if (key !== "include") continue;
    const args = words(m[2]!);
    for (const [i, arg] of args.entries()) {
      const path = isAbsolute(arg) ? arg : join("/etc/ssh", arg);
      const base = basename(path);
      if (!base.startsWith("*") || base.slice(1).includes("*") || /[?[\]]/.test(base) || /[*?[\]]/.test(dirname(path))) continue;
      return { path: join(dirname(path), DROP_IN_NAME + base.slice(1)), text, line: n, args, glob: i };
    }
  }
  throw new SshdConfigError(
    `${mainConfig} has no Include of a drop-in folder before its first Match block, so the hog cannot close password and keyboard-interactive logins: ` +
      `add "Include /etc/ssh/sshd_config.d/*.conf" as its first line`,
  );
}

/** sshd_config arguments: whitespace-separated, double quotes group. */
export function words(s: string): string[] {
  return [...s.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

const quote = (path: string): string => {
  if (/["\r\n]/.test(path)) throw new SshdConfigError(`cannot put ${JSON.stringify(path)} into sshd_config`);
  return `"${path}"`;
};

/**
 * The main config as sshd will read it once the hog's drop-in is installed,
 * without installing it: the drop-in folder's Include names the folder's
 * files one by one, in glob(3) order, with `rule` where the drop-in sorts
 * (the drop-in only Includes the rule). `names` is the folder's listing.
 * Relative Includes stay as they are (sshd resolves them against /etc/ssh
 * wherever the including file is), so this file can live anywhere.
 */
export function standInConfig(site: DropInSite, names: readonly string[], rule: string): string {
  const folder = dirname(site.path);
  const glob = basename(isAbsolute(site.args[site.glob]!) ? site.args[site.glob]! : join("/etc/ssh", site.args[site.glob]!));
  const suffix = glob.slice(1);
  const ours = basename(site.path);
  const matched = names.filter((n) => n.endsWith(suffix) && !n.startsWith(".") && n !== ours);
  const files = [...matched, ours].sort().map((n) => (n === ours ? rule : join(folder, n)));
  const args = site.args.flatMap((a, i) => (i === site.glob ? files : [a])).map(quote);
  const lines = site.text.split("\n");
  lines[site.line] = `Include ${args.join(" ")}`;
  return lines.join("\n");
}

/** The drop-in's whole content: a pointer to the rule under /run. */
export function dropInText(rulePath: string): string {
  return `${MARKER}\n# The rule itself lives under /run, so a reboot always undoes it.\nInclude ${quote(rulePath)}\n`;
}

/**
 * The Match block: everyone but `allowed` (root, admins, exempt users, the
 * holders) may only log in with a key listed in `<keysDir>/<login>`, which
 * holds their keys restricted to the status command.
 */
export function ruleText(allowed: readonly string[], keysDir: string): string {
  const names = [...new Set(allowed)].sort();
  for (const n of names) if (!login.test(n)) throw new SshdConfigError(`not a login name that can go into sshd_config: ${JSON.stringify(n)}`);
  if (/[\s"%]/.test(keysDir)) throw new SshdConfigError(`keys folder ${keysDir} may not contain spaces, quotes or %`);
  return [
    MARKER,
    `Match User ${["*", ...names.map((n) => `!${n}`)].join(",")}`,
    // Only public keys: no password, keyboard-interactive/PAM, host-based or GSSAPI logins.
    "\tAuthenticationMethods publickey",
    // Keys only from the agent's root-owned file: nothing the user can create, replace, rename or symlink.
    `\tAuthorizedKeysFile ${keysDir}/%u`,
    "\tAuthorizedKeysCommand none",
    // A user certificate signed by a trusted CA would be a key login that no keys file lists.
    "\tTrustedUserCAKeys none",
    "\tAuthorizedPrincipalsCommand none",
    "",
  ].join("\n");
}

/** What `sshd -T -C user=<locked user>` must print once the rule is in force. */
export function ruleInForce(sshdT: string, keysDir: string): string[] {
  const want: Record<string, string> = { authenticationmethods: "publickey", authorizedkeysfile: `${keysDir}/%u`, authorizedkeyscommand: "none", trustedusercakeys: "none" };
  const got = new Map<string, string>();
  for (const line of sshdT.split("\n")) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (m) got.set(m[1]!.toLowerCase(), m[2]!.trim());
  }
  return Object.entries(want).filter(([k, v]) => got.get(k) !== v).map(([k, v]) => `${k} is "${got.get(k) ?? "unset"}", not "${v}"`);
}
