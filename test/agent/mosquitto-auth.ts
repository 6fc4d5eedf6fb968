import { execFileSync } from "node:child_process";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, startAndWait, tempDir, waitForPort, type Service } from "../services/process.ts";

/**
 * A real Mosquitto with a password file, TCP and WebSocket listeners. (The
 * shared test/services/mosquitto.ts `passwords` option fails: when started
 * as root Mosquitto drops to the `mosquitto` user, which cannot read the
 * password file in the 0700 temp dir. Reported to the lead; `user root`
 * here keeps it readable.)
 */
export async function startMosquittoWithPasswords(passwords: Record<string, string>) {
  const dir = await tempDir("mosquitto-auth");
  const port = await freePort();
  const wsPort = await freePort();
  const pw = join(dir, "passwd");
  await writeFile(pw, "");
  for (const [u, p] of Object.entries(passwords)) execFileSync("mosquitto_passwd", ["-b", pw, u, p]);
  await chmod(pw, 0o600);
  await writeFile(join(dir, "mosquitto.conf"), [
    "user root",
    "per_listener_settings false",
    `listener ${port} 127.0.0.1`,
    `listener ${wsPort} 127.0.0.1`,
    "protocol websockets",
    "allow_anonymous false",
    `password_file ${pw}`,
  ].join("\n") + "\n");
  const start = async () => {
    const s = await startAndWait("/usr/sbin/mosquitto", ["-c", join(dir, "mosquitto.conf")], { dir, port });
    await waitForPort(wsPort);
    return s;
  };
  let svc: Service = await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${wsPort}`,
    async restart() {
      const exited = new Promise((r) => svc.child.once("exit", r));
      svc.child.kill("SIGTERM");
      await exited;
      svc = await start();
    },
    stop: () => svc.stop(),
  };
}
