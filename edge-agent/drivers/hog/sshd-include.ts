import { readdirSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";

/**
 * The files one `Include` argument names, as sshd reads them: relative
 * paths are relative to /etc/ssh (wherever the including file is), and a
 * glob in the last component matches that folder's entries in lexical order
 * (glob(3), as sshd's servconf.c uses it; dot files only when the pattern
 * names them, which sshd's configs never do). Undefined for what this does
 * not follow (a glob in a folder name, bracket expressions): the callers
 * then rely on sshd itself.
 */
export function includeTargets(arg: string, skip: ReadonlySet<string> = new Set()): { files: string[]; glob: boolean } | undefined {
  const p = isAbsolute(arg) ? arg : join("/etc/ssh", arg);
  if (/[*?[\]]/.test(dirname(p))) return undefined;
  const base = basename(p);
  if (!/[*?[\]]/.test(base)) return { files: skip.has(p) ? [] : [p], glob: false };
  const re = globRegExp(base);
  if (!re) return undefined;
  const names = readdirOr(dirname(p))
    .filter((n) => re.test(n) && !n.startsWith(".") && !skip.has(join(dirname(p), n)))
    .sort();
  return { files: names.map((n) => join(dirname(p), n)), glob: true };
}

/** A glob's last component as a regular expression; undefined for what this does not follow (`[...]`). */
function globRegExp(glob: string): RegExp | undefined {
  if (/[[\]\\]/.test(glob)) return undefined;
  return new RegExp(`^${glob.replace(/[.+^${}()|]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}$`);
}

function readdirOr(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
