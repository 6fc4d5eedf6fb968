import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "../services/process.ts";

/**
 * `labhog agent` sets its V8 flags at run time (edge-agent/agent/daemon-v8.ts),
 * after Node has started: this proves V8 honours them then, in a fresh Node
 * process beside one without them (the control shows the check can fail).
 * V8's own status bits (--allow-natives-syntax) say whether a hot function
 * was optimized, and the heap statistics how far the young generation grew.
 */
const run = promisify(execFile);
const repo = resolve(import.meta.dirname, "..", "..");
const tuning = join(repo, "edge-agent", "agent", "daemon-v8.ts");

// V8's OptimizationStatus bits (src/runtime/runtime.h).
const OPTIMIZED = 1 << 4;
const TURBOFANNED = 1 << 6;

const child = `
const { pathToFileURL } = await import("node:url");
const v8 = await import("node:v8");
const { tuneV8ForDaemon } = await import(pathToFileURL(process.argv[2]).href);
if (process.argv[3] === "tuned") tuneV8ForDaemon();
// Native syntax through Function, which no loader rewrites.
const status = new Function("f", "return %GetOptimizationStatus(f)");
function hot(x) { return (x * 2 + 1) | 0; }
let s = 0;
for (let i = 0; i < 3e6; i++) s = (s + hot(i)) | 0;
// Short-lived garbage with some survivors: what makes V8 grow the young generation.
const keep = [];
for (let i = 0; i < 3e6; i++) keep[i % 200000] = { i, s: "x" + i };
const young = v8.getHeapSpaceStatistics().find((x) => x.space_name === "new_space");
console.log(JSON.stringify({ status: status(hot), youngBytes: young.space_size, s }));
`;

let script: string;
beforeAll(async () => {
  script = join(await tempDir("daemon v8"), "child.mjs");
  await writeFile(script, child);
});

async function measure(mode: "plain" | "tuned"): Promise<{ status: number; youngBytes: number }> {
  // Synchronous optimization: a hot function is optimized before the loop ends, or never.
  const { stdout } = await run(process.execPath, ["--import", "tsx", "--allow-natives-syntax", "--no-concurrent-recompilation", script, tuning, mode], { cwd: repo });
  return JSON.parse(stdout);
}

describe("the agent's own V8 flags, set after start-up", () => {
  it("without them a hot function is optimized by TurboFan and the young generation grows past 2 MiB", async () => {
    const { status, youngBytes } = await measure("plain");
    expect(status & OPTIMIZED).toBe(OPTIMIZED);
    expect(youngBytes).toBeGreaterThan(2 * 1024 * 1024);
  });

  it("with them the same function stays in the interpreter and the young generation keeps its start size", async () => {
    const { status, youngBytes } = await measure("tuned");
    expect(status & (OPTIMIZED | TURBOFANNED)).toBe(0);
    expect(youngBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
  });
});
