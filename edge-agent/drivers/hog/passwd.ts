import { readFileSync } from "node:fs";

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

const noLogin = /(^|\/)(nologin|false|sync|halt|shutdown)$/;

/**
 * Users from a passwd file (the local one; NSS users without a local entry are not seen: documented).
 * Read synchronously: a local file read at every lock, where a thread-pool round trip costs more than the read.
 */
export async function readUsers(passwdFile: string): Promise<UnixUser[]> {
  const text = readFileSync(passwdFile, "utf8");
  const users: UnixUser[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#") || line.startsWith("+") || line.startsWith("-")) continue;
    const f = line.split(":");
    if (f.length < 7) continue;
    users.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! });
  }
  return users;
}

export function hasLoginShell(u: UnixUser): boolean {
  return u.shell !== "" && !noLogin.test(u.shell);
}
