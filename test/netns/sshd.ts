import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { freePort, waitForPort } from "../services/process.ts";
import { run } from "./namespace.ts";

export interface Sshd {
  port: number;
  config: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
  /** Logs in with `key` and runs `command`; never throws: returns what happened. */
  login(user: string, key: string, command?: string, extra?: string[]): Promise<{ code: number | null; out: string }>;
}

/** A REAL OpenSSH server on a free port on lo (inside the namespace), with its own config. */
export async function startSshd(dir: string, authorizedKeysFile: string): Promise<Sshd> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const hostKey = `${dir}/host_ed25519`;
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  const config = `${dir}/sshd_config`;
  await writeFile(config, [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${hostKey}`,
    `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${authorizedKeysFile}`,
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "PermitRootLogin prohibit-password",
    "StrictModes yes",
    "LogLevel VERBOSE",
  ].join("\n") + "\n");
  const child = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out = (out + b).slice(-50_000)));
  child.stderr!.on("data", (b: Buffer) => (out = (out + b).slice(-50_000)));
  await waitForPort(port);
  return {
    port,
    config,
    child,
    output: () => out,
    async stop() {
      child.kill("SIGTERM");
    },
    login(user, key, command = "echo SHELL-OK $(id -un)", extra = []) {
      return new Promise((resolve) => {
        const c = spawn("ssh", ["-i", key, "-p", String(port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", ...extra, `${user}@127.0.0.1`, command], { stdio: ["ignore", "pipe", "pipe"] });
        let o = "";
        c.stdout.on("data", (b: Buffer) => (o += b.toString()));
        c.stderr.on("data", (b: Buffer) => (o += b.toString()));
        const t = setTimeout(() => c.kill("SIGKILL"), 30_000);
        c.on("exit", (code) => { clearTimeout(t); resolve({ code, out: o }); });
      });
    },
  };
}
