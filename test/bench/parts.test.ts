import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { benchParts } from "../../bench/parts.ts";

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bench");

describe("npm run bench: which modules are parts", () => {
  const made: string[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  const folder = async (files: Record<string, string>) => {
    const dir = await mkdtemp(join(tmpdir(), "labhog-bench-parts-"));
    made.push(dir);
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return dir;
  };

  it("in this checkout: every module is a part or a listed helper; helpers and opt-in parts are not run by default", async () => {
    const parts = await benchParts(benchDir);
    expect(parts).toContain("worker");
    expect(parts).toContain("system");
    for (const notRun of ["scale", "v8-profile", "wrangler-dev", "types", "run", "parts"]) expect(parts).not.toContain(notRun);
    expect(await benchParts(benchDir, ["scale"])).toEqual(["scale"]);
  });

  it("a module that is neither a part nor a listed helper is an error that names it, not a FAILED row in every full run", async () => {
    const d = await folder({ "agent.ts": "export default async function run() { return []; }\n", "profile-tools.ts": "export function combine() {}\n" });
    await expect(benchParts(d)).rejects.toThrow("bench/profile-tools.ts has no default export (the part's run) and is not listed in HELPERS");
  });

  it("a listed helper with a default export, and an unknown part asked for, are errors", async () => {
    const d = await folder({ "agent.ts": "export default async function run() { return []; }\n", "types.ts": "export default {};\n" });
    await expect(benchParts(d)).rejects.toThrow("bench/types.ts is listed as a helper but has a default export");
    const e = await folder({ "agent.ts": "export default async function run() { return []; }\n" });
    await expect(benchParts(e, ["agnet"])).rejects.toThrow("no bench part agnet; the parts are agent");
  });
});
