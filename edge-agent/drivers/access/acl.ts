import type { ExecFn } from "../deps.ts";

/**
 * POSIX ACL entries on device nodes through setfacl/getfacl (package acl),
 * with argument arrays: a login name never reaches a shell. Only named-user
 * entries (`u:<login>:rw`) are added or removed; the owner, group and other
 * bits, and entries for groups, stay as the admin or udev set them.
 */
export class Acl {
  constructor(
    private readonly exec: ExecFn,
    private readonly setfacl = "setfacl",
    private readonly getfacl = "getfacl",
  ) {}

  grant(node: string, login: string): Promise<unknown> {
    return this.exec(this.setfacl, ["-m", `u:${login}:rw`, "--", node], { timeout: 10_000 });
  }

  revoke(node: string, login: string): Promise<unknown> {
    return this.exec(this.setfacl, ["-x", `u:${login}`, "--", node], { timeout: 10_000 });
  }

  /** Logins with a named-user entry on the node, and what they may do (`rw-`). */
  async namedUsers(node: string): Promise<Map<string, string>> {
    const { stdout } = await this.exec(this.getfacl, ["-p", "--omit-header", "--", node], { timeout: 10_000 });
    return parseNamedUsers(stdout);
  }
}

/** Named-user lines of getfacl output (`user:alice:rw-`, the effective-rights comment ignored). */
export function parseNamedUsers(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^user:([^:\s]+):([rwx-]{3})/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}
