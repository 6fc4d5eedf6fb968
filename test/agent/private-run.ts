import { execFileArgs, type ExecFn } from "../../edge-agent/drivers/deps.ts";

/**
 * The argv that runs `file args` in a mount namespace of its own with a
 * private tmpfs over /run holding sshd's /run/sshd, so a REAL sshd (-t, -T,
 * -D) runs without the machine's /run being touched. With `privsep`, that
 * folder is bound at /run/sshd instead: sshd then runs only if it exists.
 */
export function inPrivateRun(file: string, args: readonly string[], o: { privsep?: string } = {}): [string, string[]] {
  const script = o.privsep === undefined
    ? 'mount -t tmpfs labhog-run /run && mkdir /run/sshd && exec "$@"'
    : 'p="$1"; shift; mount -t tmpfs labhog-run /run && mkdir /run/sshd && mount --bind "$p" /run/sshd && exec "$@"';
  return ["unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", ...(o.privsep === undefined ? [] : [o.privsep]), file, ...args]];
}

/** An ExecFn that runs `sshd` (the given binary) through inPrivateRun, and everything else as is. */
export function privateRunExecFor(sshd: string, o: { privsep?: string } = {}): ExecFn {
  return (file, args, opts) => (file === sshd ? execFileArgs(...inPrivateRun(file, args, o), opts) : execFileArgs(file, args, opts));
}
