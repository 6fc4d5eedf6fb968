import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWranglerDev, type WranglerDev } from "../wrangler-dev.ts";

/**
 * The minimal relay Worker (index.js here) under its own `wrangler dev`, run
 * from a copy in a temporary folder so wrangler's build output stays out of
 * the checkout. Same wrangler and workerd as the labhog Worker.
 */
export async function startRelayWorker(persistParent: string): Promise<WranglerDev> {
  const project = await mkdtemp(join(tmpdir(), "labhog-bench-relay-"));
  try {
    await cp(join(dirname(fileURLToPath(import.meta.url)), "index.js"), join(project, "index.js"));
    await writeFile(join(project, "wrangler.toml"), `name = "labhog-bench-relay"\nmain = "index.js"\ncompatibility_date = "2025-09-01"\n`);
    const dev = await startWranglerDev({}, join(persistParent, "relay"), "error", project);
    return {
      ...dev,
      async stop() {
        await dev.stop();
        await rm(project, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(project, { recursive: true, force: true });
    throw e;
  }
}
