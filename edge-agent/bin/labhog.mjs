#!/usr/bin/env node
// The `labhog` command in a checkout: runs the built agent and CLI,
// edge-agent/dist/labhog.mjs (`npm run build`; `npm start` and the tests build
// it). A host installs dist/ alone (docs/deployment.md), without this file.
try {
  await import("../dist/labhog.mjs");
} catch (e) {
  if (e?.code !== "ERR_MODULE_NOT_FOUND" || !String(e.message).includes("dist/labhog.mjs")) throw e;
  process.stderr.write("labhog: edge-agent/dist/labhog.mjs is missing; build it with `npm run build`\n");
  process.exitCode = 1;
}
