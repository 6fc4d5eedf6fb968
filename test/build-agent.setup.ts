import { execFileSync } from "node:child_process";
import { join } from "node:path";

/**
 * Tests spawn the real `labhog` binary, which runs the built JavaScript
 * (edge-agent/dist). Build it first when a source changed since the last
 * build, so a test never runs stale code.
 */
export default function setup(): void {
  execFileSync(process.execPath, [join(import.meta.dirname, "..", "scripts", "build-agent.mjs"), "--if-stale"], { stdio: "inherit" });
}
