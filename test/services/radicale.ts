import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, startAndWait, tempDir, type Service } from "./process.ts";

export interface RadicaleService extends Service {
  url: string;
  username: string;
  password: string;
}

/** A real Radicale (Debian package) on a free port with its own storage and htpasswd auth. */
export async function startRadicale(opts: { username?: string; password?: string } = {}): Promise<RadicaleService> {
  const dir = await tempDir("radicale");
  const port = await freePort();
  const username = opts.username ?? "labhog";
  const password = opts.password ?? "labhog-test-secret";
  await writeFile(join(dir, "users"), `${username}:${password}\n`);
  await writeFile(
    join(dir, "config"),
    [
      "[server]",
      `hosts = 127.0.0.1:${port}`,
      "[auth]",
      "type = htpasswd",
      `htpasswd_filename = ${join(dir, "users")}`,
      "htpasswd_encryption = plain",
      "delay = 0",
      "[rights]",
      "type = owner_only",
      "[storage]",
      `filesystem_folder = ${join(dir, "collections")}`,
      "[logging]",
      "level = warning",
      "mask_passwords = True",
      "",
    ].join("\n"),
  );
  const svc = await startAndWait("python3", ["-m", "radicale", "--config", join(dir, "config")], { dir, port, env: { PATH: `/usr/bin:${process.env.PATH ?? ""}` } });
  return { ...svc, url: `http://127.0.0.1:${port}/`, username, password, stop: svc.stop, output: svc.output };
}
