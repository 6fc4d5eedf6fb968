/**
 * `npm run bench`: runs every bench/<name>.ts but the opt-in ones (or the ones
 * named on the command line) one after another — they share two cores, so never in parallel — and
 * prints one table. Each part measures its own floor in the same run, so the
 * ratios compare like with like on whatever machine this is.
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";
import { removeTempDirs } from "../test/services/process.ts";
import { benchParts } from "./parts.ts";
import type { BenchRow } from "./types.ts";

const here = dirname(fileURLToPath(import.meta.url));
// No part asks Cloudflare for a Request.cf object when it starts a Worker (miniflare does outside tests): a bench
// depends on no outside service, and without a network each start waited 3 s for it.
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
const parts = await benchParts(here, process.argv.slice(2)).catch((e: Error) => {
  console.error(`bench: ${e.message}`);
  process.exit(2);
});

const rows: Array<BenchRow & { part: string }> = [];
let failed = 0;
for (const part of parts) {
  process.stderr.write(`bench: ${part}…\n`);
  const t0 = performance.now();
  try {
    const mod = (await import(pathToFileURL(join(here, `${part}.ts`)).href)) as { default: () => Promise<BenchRow[]> };
    for (const r of await mod.default()) rows.push({ ...r, part });
  } catch (e) {
    failed++;
    rows.push({ part, name: "FAILED", value: NaN, unit: "", note: (e as Error).message.split("\n")[0] ?? "" });
  }
  process.stderr.write(`bench: ${part} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
// The parts' folders (test/services/process.ts tempDir), once every part has stopped what ran in them.
const kept = await removeTempDirs();
if (kept.length) process.stderr.write(`bench: temporary folders kept: ${kept.join("; ")}\n`);

const fmt = (v: number) => (Number.isNaN(v) ? "-" : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));
const table = rows.map((r) => [r.part, r.name, fmt(r.value), r.unit, r.ratio === undefined ? "" : `${fmt(r.ratio)}×`, r.note ?? ""]);
const head = ["part", "measure", "value", "unit", "ratio", "note"];
const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
console.log(line(head));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of table) console.log(line(row));
process.exitCode = failed ? 1 : 0;
