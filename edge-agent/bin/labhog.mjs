#!/usr/bin/env node
// The `labhog` command: runs the TypeScript sources through tsx's ESM loader
// (no build step), then hands over to cli/main.ts.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
