/**
 * CLI start-up: `labhog status` is what a locked-out user's ssh login runs, so
 * its wall time from exec to exit matters. Measured against `node -e 0` (Node's
 * own start-up, the floor) in the same run, alternating the two.
 */
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchRow } from "./types.ts";
import { tempDir } from "../test/services/process.ts";

const repo = resolve(fileURLToPath(import.meta.url), "../..");
const runs = process.env.LABHOG_BENCH_QUICK === "1" ? 10 : 30;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function time(args: string[]): number {
  const t0 = performance.now();
  // No NODE_OPTIONS from `npm run bench` (--expose-gc): as a login shell runs it.
  execFileSync(process.execPath, args, { stdio: "ignore", env: { ...process.env, NODE_OPTIONS: "" } });
  return performance.now() - t0;
}

export default async function run(): Promise<BenchRow[]> {
  const dir = await tempDir("bench-cli");
  const file = join(dir, "status.json");
  await writeFile(file, JSON.stringify({ agent: "a1", site: "lab", updatedAt: new Date().toISOString(), resources: [{ id: "host1", served: true, holder: { id: "bob", unix: ["bob"] }, exclusive: true, end: new Date(Date.now() + 3600_000).toISOString(), upcoming: [] }] }));
  const bin = join(repo, "edge-agent", "dist", "labhog.mjs");
  const status = ["status", "--file", file];
  time([bin, ...status]); // warm the page cache
  const floor: number[] = [];
  const cli: number[] = [];
  for (let i = 0; i < runs; i++) {
    floor.push(time(["-e", "0"]));
    cli.push(time([bin, ...status]));
  }
  const f = p50(floor);
  const c = p50(cli);
  return [
    { name: "node -e 0 start p50 (floor)", value: round(f), unit: "ms", note: `${runs} runs` },
    { name: "labhog status start p50", value: round(c), unit: "ms", ratio: round(c / f, 2), note: "edge-agent/dist/labhog.mjs, exec to exit; goal < 150 ms" },
  ];
}
