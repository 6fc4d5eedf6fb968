// What `edge-agent/dist/labhog.mjs` starts with (scripts/build-agent.mjs bundles
// from here). Everything else, the commands and the drivers, is imported lazily,
// so each lands in its own chunk and `labhog status` loads almost nothing.
import { main } from "../cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
