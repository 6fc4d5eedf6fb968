import { spawn, type ChildProcess } from "node:child_process";
import { connect, createServer } from "node:net";

/**
 * The holder's way to usbipd: `ssh -N -L 127.0.0.1:<local>:127.0.0.1:<port>`
 * to the agent's host, as the holder's own login. On the host, sshd opens
 * the forward from the session's process, which runs as that login: the
 * agent's nftables table lets exactly those uids through (firewall.ts).
 * usbip then talks to 127.0.0.1:<local> (`usbip --tcp-port <local>`).
 *
 * The tunnel is restarted on the same local port when ssh exits (the network
 * dropped, the host rebooted), so the attach loop simply finds it again.
 * Attached devices talk through it too (usbip hands its connection to the
 * kernel), so it lives as long as they are attached.
 */
export interface TunnelOptions {
  host: string;
  /** The unix login on the host (default: ssh's own choice: the ssh config, else the local user). */
  login?: string;
  sshPort?: number;
  /** usbipd's port on the host. */
  remotePort: number;
  /** An ssh config file (`ssh -F`). */
  sshConfig?: string;
  ssh?: string;
  say(line: string): void;
}

export interface Tunnel {
  /** The local port that reaches usbipd. */
  port: number;
  /** The ssh process's id (for the user, when it is left running). */
  pid: number | undefined;
  close(): Promise<void>;
  /**
   * Lets this process exit with the tunnel still up. An attached device's
   * traffic runs over the connection usbip made, through the tunnel: closing
   * it would cut the device off.
   */
  leave(): void;
}

async function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const accepting = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect({ host: "127.0.0.1", port });
    c.once("connect", () => { c.destroy(); resolve(true); });
    c.once("error", () => resolve(false));
  });

/** A host name or address for ssh's command line, never an option. */
const HOST = /^[A-Za-z0-9][A-Za-z0-9.:_%-]*$/;
const LOGIN = /^[a-z_][a-z0-9_-]{0,31}$/;

export function sshArgs(o: TunnelOptions, localPort: number): string[] {
  if (!HOST.test(o.host)) throw new Error(`bad host ${JSON.stringify(o.host)}`);
  if (o.login !== undefined && !LOGIN.test(o.login)) throw new Error(`bad login ${JSON.stringify(o.login)}`);
  return [
    "-N",
    // Fail rather than run without the forward (the port could be someone else's).
    "-o", "ExitOnForwardFailure=yes",
    "-o", "BatchMode=yes",
    "-o", "ServerAliveInterval=15",
    "-L", `127.0.0.1:${localPort}:127.0.0.1:${o.remotePort}`,
    ...(o.sshPort ? ["-p", String(o.sshPort)] : []),
    ...(o.sshConfig ? ["-F", o.sshConfig] : []),
    ...(o.login ? ["-l", o.login] : []),
    "--",
    o.host,
  ];
}

/** Opens the tunnel; resolves once its local port accepts connections, rejects with ssh's words when it can't. */
export async function openTunnel(o: TunnelOptions, timeoutMs = 20_000): Promise<Tunnel> {
  const port = await freeLocalPort();
  const args = sshArgs(o, port);
  let child: ChildProcess | undefined;
  let closed = false;
  let left = false;
  let stderr = "";
  let restarts = 0;
  const start = () => {
    stderr = "";
    // Its own process group: a Ctrl-C meant for labhog must not cut the devices' connection under it.
    const c = spawn(o.ssh ?? "ssh", args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
    c.stderr!.on("data", (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    c.on("error", (e) => (stderr += e.message));
    c.on("exit", () => {
      if (closed || child !== c) return;
      restarts++;
      o.say(`ssh tunnel to ${o.host} ended${stderr.trim() ? ` (${stderr.trim().split("\n").at(-1)})` : ""}; reconnecting`);
      setTimeout(() => { if (!closed) start(); }, Math.min(30_000, 1000 * 2 ** Math.min(restarts, 5))).unref();
    });
    child = c;
  };
  start();
  const first = child!;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (first.exitCode !== null || first.signalCode !== null) {
      closed = true;
      throw new Error(`ssh to ${o.host} failed: ${stderr.trim() || `exit ${first.exitCode ?? first.signalCode}`}`);
    }
    // Ready when the forward accepts a connection (portable, unlike reading the socket table);
    // that one empty connection reaches usbipd, which drops it.
    if (await accepting(port)) break;
    if (Date.now() > deadline) {
      closed = true;
      first.kill("SIGTERM");
      throw new Error(`ssh to ${o.host}: no tunnel after ${timeoutMs} ms${stderr.trim() ? `: ${stderr.trim()}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    get pid() {
      return child?.pid;
    },
    leave() {
      closed = true;
      left = true;
      child?.stderr?.destroy();
      child?.unref();
    },
    async close() {
      if (left) return;
      closed = true;
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGTERM");
      await exited;
    },
  };
}
