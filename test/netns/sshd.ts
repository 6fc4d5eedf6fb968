import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { freePort, waitForPort } from "../services/process.ts";
import { run } from "./namespace.ts";

export interface LoginResult {
  code: number | null;
  out: string;
}

export interface Sshd {
  port: number;
  config: string;
  /** The drop-in folder the main config Includes first (where the hog puts its rule). */
  dropIns: string;
  child: ChildProcess;
  /** Everything sshd logged since it started (LogLevel DEBUG1), or since `mark()`'s offset. */
  output(since?: number): string;
  mark(): number;
  stop(): Promise<void>;
  /** Stops it and starts it again on the same port with the same config (as a reboot does). */
  restart(): Promise<void>;
  /** Logs in with `key` and runs `command`; never throws: returns what happened. */
  login(user: string, key: string, command?: string, extra?: string[]): Promise<LoginResult>;
  /** A REAL password login through PAM (sshpass), `method` password or keyboard-interactive. */
  passwordLogin(user: string, password: string, method: "password" | "keyboard-interactive", command?: string): Promise<LoginResult>;
}

const clientOpts = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"];

function client(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<LoginResult> {
  return new Promise((resolve) => {
    const c = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let o = "";
    c.stdout.on("data", (b: Buffer) => (o += b.toString()));
    c.stderr.on("data", (b: Buffer) => (o += b.toString()));
    const t = setTimeout(() => c.kill("SIGKILL"), 30_000);
    c.on("exit", (code) => { clearTimeout(t); resolve({ code, out: o }); });
  });
}

/**
 * A REAL OpenSSH server on a free port on lo (inside the namespace), with its
 * own config set up like Debian's: an Include of a drop-in folder first, PAM
 * with password and keyboard-interactive logins on.
 */
export async function startSshd(dir: string, authorizedKeysFile: string, extra: string[] = []): Promise<Sshd> {
  await mkdir(`${dir}/sshd_config.d`, { recursive: true });
  const port = await freePort();
  const hostKey = `${dir}/host_ed25519`;
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  const config = `${dir}/sshd_config`;
  await writeFile(config, [
    `Include ${dir}/sshd_config.d/*.conf`,
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${hostKey}`,
    `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${authorizedKeysFile}`,
    "UsePAM yes",
    "PasswordAuthentication yes",
    "KbdInteractiveAuthentication yes",
    "PermitRootLogin prohibit-password",
    "StrictModes yes",
    // DEBUG1 logs which keys file sshd reads, so a test can prove why a key was refused.
    "LogLevel DEBUG1",
    ...extra,
    // …but root's sessions (not separated from sshd's privileges) would copy it to the client.
    "Match User root",
    "\tLogLevel VERBOSE",
  ].join("\n") + "\n");
  let out = "";
  let child!: ChildProcess;
  const start = async () => {
    // -D: stays in the foreground (SIGHUP re-executes it in place, same pid); -e: log to stderr.
    child = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
    await waitForPort(port);
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  await start();
  return {
    port,
    config,
    dropIns: `${dir}/sshd_config.d`,
    get child() {
      return child;
    },
    output: (since = 0) => out.slice(since),
    mark: () => out.length,
    stop,
    async restart() {
      await stop();
      await start();
    },
    login(user, key, command = "echo SHELL-OK $(id -un)", extra = []) {
      return client("ssh", ["-i", key, "-p", String(port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", ...clientOpts, ...extra, `${user}@127.0.0.1`, command]);
    },
    passwordLogin(user, password, method, command = "echo SHELL-OK $(id -un)") {
      // sshpass answers the "Password:" prompt (PAM's, for keyboard-interactive too); -e reads it from SSHPASS.
      const args = ["-e", "ssh", "-p", String(port), "-o", `PreferredAuthentications=${method}`, "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1", ...clientOpts, `${user}@127.0.0.1`, command];
      return client("sshpass", args, { ...process.env, SSHPASS: password });
    },
  };
}
