import { chmodSync, mkdirSync, statSync } from "node:fs";

/**
 * sshd's privilege separation folder. `sshd -t` and `sshd -T` refuse to run
 * without it ("Missing privilege separation directory: /run/sshd"), and on
 * Debian and Ubuntu it lives on the /run tmpfs, made by ssh.service when sshd
 * starts (RuntimeDirectory=sshd, mode 0755). A host whose sshd has not
 * started since boot has none: Ubuntu's default is socket activation
 * (ssh.socket), which starts sshd at the first connection only. Every lock
 * until then would fail. So it is made as the unit would make it: root's,
 * 0755, empty. An existing folder is left as it is; sshd itself judges it.
 */
export function ensurePrivsepDir(path: string): void {
  if (statSync(path, { throwIfNoEntry: false })) return;
  mkdirSync(path, { recursive: true, mode: 0o755 });
  // mkdir's mode passes through the umask; sshd wants exactly this.
  chmodSync(path, 0o755);
}
