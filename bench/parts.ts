import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** Modules the parts share, not parts themselves. */
export const HELPERS = ["parts.ts", "run.ts", "types.ts", "v8-profile.ts", "wrangler-dev.ts"];
/** Parts that run only when named (`npm run bench scale`): minutes long, every core busy. */
export const OPT_IN = ["scale"];

/**
 * The parts `npm run bench` runs: every bench/<name>.ts with a default export
 * (the part's run), but the opt-in ones unless named. A module that is
 * neither a part nor listed as a helper is an error, not skipped: a helper
 * added without being listed made every full run fail (v8-profile.ts), and a
 * part that lost its default export would otherwise drop out of the table
 * without a word.
 */
export async function benchParts(dir: string, wanted: readonly string[] = []): Promise<string[]> {
  const names = (await readdir(dir)).filter((f) => f.endsWith(".ts")).sort();
  const parts: string[] = [];
  for (const f of names) {
    const isPart = /^export default\b/m.test(await readFile(join(dir, f), "utf8"));
    const helper = HELPERS.includes(f);
    if (isPart && helper) throw new Error(`bench/${f} is listed as a helper but has a default export: a part or a helper, not both`);
    if (!isPart && !helper) throw new Error(`bench/${f} has no default export (the part's run) and is not listed in HELPERS (bench/parts.ts)`);
    if (isPart) parts.push(f.slice(0, -3));
  }
  const unknown = wanted.filter((w) => !parts.includes(w));
  if (unknown.length) throw new Error(`no bench part ${unknown.join(", ")}; the parts are ${parts.join(", ")}`);
  return parts.filter((n) => (wanted.length === 0 ? !OPT_IN.includes(n) : wanted.includes(n)));
}
