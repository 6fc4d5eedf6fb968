import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, startAndWait, tempDir, type Service } from "../../services/process.ts";

export interface PdudaemonService extends Service {
  url: string;
  /** Lines "<pdu> <port> <on|off> <epoch ms>" appended by the outlet script, in the order pdudaemon ran them. */
  outlets(): Promise<{ pdu: string; port: string; request: string; at: number }[]>;
}

/**
 * A real pdudaemon (Debian package) with its HTTP listener on a free port and
 * `localcmdline` PDUs whose cmd_on/cmd_off run a script that appends to a file.
 */
export async function startPdudaemon(pdus: string[] = ["lab"]): Promise<PdudaemonService> {
  const dir = await tempDir("pdudaemon");
  const port = await freePort();
  const log = join(dir, "outlets.log");
  const script = join(dir, "outlet.sh");
  await writeFile(script, `#!/bin/sh\necho "$1 $2 $3 $(date +%s%3N)" >> '${log}'\n`);
  await chmod(script, 0o755);
  const conf = {
    daemon: { hostname: "127.0.0.1", port, logging_level: "DEBUG", listener: "http" },
    pdus: Object.fromEntries(pdus.map((p) => [p, { driver: "localcmdline", cmd_on: `${script} ${p} %s on`, cmd_off: `${script} ${p} %s off`, retries: 1 }])),
  };
  await writeFile(join(dir, "pdudaemon.conf"), JSON.stringify(conf, null, 2));
  const svc = await startAndWait("/usr/sbin/pdudaemon", ["--conf", join(dir, "pdudaemon.conf"), "--logfile", "-", "--loglevel", "DEBUG"], { dir, port });
  return {
    ...svc,
    url: `http://127.0.0.1:${port}`,
    async outlets() {
      const text = await readFile(log, "utf8").catch(() => "");
      return text.trim().split("\n").filter(Boolean).map((l) => {
        const [pdu, p, request, at] = l.split(" ");
        return { pdu: pdu!, port: p!, request: request!, at: Number(at) };
      });
    },
  };
}
