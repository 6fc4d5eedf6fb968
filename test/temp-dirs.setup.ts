import { afterAll } from "vitest";
import { removeTempDirs } from "./services/process.ts";

// Every Node test file: what tempDir made goes once the file's own afterAll hooks (which stop the
// services living in those folders) have run; after hooks run last-registered first, and this one
// is registered before the file's.
afterAll(async () => {
  const kept = await removeTempDirs();
  if (kept.length) console.warn(`temporary folders kept: ${kept.join("; ")}`);
});
