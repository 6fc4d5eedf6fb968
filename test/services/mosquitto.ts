import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, startAndWait, tempDir, waitForPort, type Service } from "./process.ts";

export interface MosquittoService extends Service {
  /** mqtt://127.0.0.1:port */
  url: string;
  /** ws://127.0.0.1:wsPort (the WebSocket listener the Worker uses) */
  wsUrl: string;
  wsPort: number;
  /** Restart on the same ports (fault tests): the retained store is kept in memory only while running. */
  restart(): Promise<void>;
}

/** A real Mosquitto (Debian package) with a TCP and a WebSocket listener on free ports. */
export async function startMosquitto(opts: { passwords?: Record<string, string>; tcpNoDelay?: boolean } = {}): Promise<MosquittoService> {
  const dir = await tempDir("mosquitto");
  const port = await freePort();
  const wsPort = await freePort();
  const lines = [
    "per_listener_settings false",
    // Mosquitto drops to the `mosquitto` user when started as root and could
    // not read its files in our 0700 temp dir; tests run as root anyway.
    "user root",
    `persistence true`,
    `persistence_location ${dir}/`,
    "autosave_interval 1",
    `listener ${port} 127.0.0.1`,
    `listener ${wsPort} 127.0.0.1`,
    "protocol websockets",
  ];
  // As docs/deployment.md configures it; off by default, as Mosquitto ships, so the tests see the stock broker.
  if (opts.tcpNoDelay) lines.push("set_tcp_nodelay true");
  if (opts.passwords) {
    const { execFileSync } = await import("node:child_process");
    const pwFile = join(dir, "passwd");
    await writeFile(pwFile, "");
    for (const [u, p] of Object.entries(opts.passwords)) execFileSync("mosquitto_passwd", ["-b", pwFile, u, p]);
    lines.push("allow_anonymous false", `password_file ${pwFile}`);
  } else {
    lines.push("allow_anonymous true");
  }
  await writeFile(join(dir, "mosquitto.conf"), lines.join("\n") + "\n");
  const start = async () => {
    const s = await startAndWait("/usr/sbin/mosquitto", ["-c", join(dir, "mosquitto.conf")], { dir, port });
    await waitForPort(wsPort);
    return s;
  };
  let svc = await start();
  const self: MosquittoService = {
    get port() { return port; },
    get dir() { return dir; },
    get child() { return svc.child; },
    url: `mqtt://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${wsPort}`,
    wsPort,
    output: () => svc.output(),
    async restart() {
      const exited = new Promise((r) => svc.child.once("exit", r));
      svc.child.kill("SIGTERM");
      await exited;
      svc = await start();
    },
    stop: () => svc.stop(),
  };
  return self;
}
