#!/usr/bin/env node
// `npm start`: install what is missing, then run the embedded default
// (scripts/demo.ts). Plain JavaScript with no dependencies, because on a fresh
// clone nothing from npm is installed yet when this runs.
import { spawnSync, spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const stamp = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");
if (!existsSync(stamp) || statSync(lock).mtimeMs > statSync(stamp).mtimeMs) {
  console.error("labhog: installing npm packages (npm ci)…");
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
// The agents the demo starts run the built JavaScript (edge-agent/dist), as on a real host.
const built = spawnSync(process.execPath, [join(root, "scripts", "build-agent.mjs"), "--if-stale"], { cwd: root, stdio: "inherit" });
if (built.status !== 0) process.exit(built.status ?? 1);
const child = spawn(process.execPath, ["--import", "tsx", join(root, "scripts", "demo.ts"), ...process.argv.slice(2)], { cwd: root, stdio: "inherit" });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, sig) => process.exit(code ?? (sig ? 130 : 1)));
