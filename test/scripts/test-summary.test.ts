import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { tempDir } from "../services/process.ts";

const summary = fileURLToPath(new URL("../../scripts/test-summary.mjs", import.meta.url));

/** Runs the summary in a folder holding the given reports; rc and output, as npm test would show them. */
async function run(reportsIn: (dir: string) => Record<string, unknown>, env: Record<string, string> = {}, extra: string[] = []) {
  const dir = await tempDir("test-summary");
  const reports = reportsIn(dir);
  for (const [name, r] of Object.entries(reports)) await writeFile(join(dir, name), JSON.stringify(r));
  const args = [summary, ...Object.keys(reports), ...extra];
  return promisify(execFile)(process.execPath, args, { cwd: dir, env: { ...process.env, NODE_RC: "0", WORKERS_RC: "0", HOST_RC: "0", ...env } })
    .then((o) => ({ code: 0, ...o }))
    .catch((e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
}

const report = (dir: string, files: { name: string; status: string; message?: string; tests?: { fullName: string; status: string; failureMessages?: string[] }[] }[]) => {
  const all = files.flatMap((f) => f.tests ?? []);
  return {
    numPassedTests: all.filter((t) => t.status === "passed").length,
    numFailedTests: all.filter((t) => t.status === "failed").length,
    numPendingTests: all.filter((t) => t.status === "pending").length,
    numTodoTests: 0,
    testResults: files.map((f) => ({ name: join(dir, f.name), status: f.status, message: f.message ?? "", assertionResults: f.tests })),
  };
};

describe("npm test's closing lines (scripts/test-summary.mjs)", () => {
  it("all passed: the count alone, exit 0", async () => {
    const r = await run((dir) => ({ "a.json": report(dir, [{ name: "test/a.test.ts", status: "passed", tests: [{ fullName: "a works", status: "passed" }, { fullName: "a waits", status: "pending" }] }]) }));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("labhog: 1 passed, 0 failed, 1 skipped\n");
  });

  it("names each failed test with its error's first line, right above the count, so CI's tail shows which (exit 1)", async () => {
    const r = await run((dir) => ({
      "node.json": report(dir, [
        { name: "test/a.test.ts", status: "failed", tests: [{ fullName: "a works", status: "passed" }, { fullName: "a suite times out", status: "failed", failureMessages: ["Error: Test timed out in 60000ms.\n    at somewhere"] }] },
      ]),
      "workers.json": report(dir, [{ name: "test/worker/b.test.ts", status: "failed", tests: [{ fullName: "b answers 503", status: "failed", failureMessages: ["AssertionError: expected 200 to be 503\n  at b"] }] }]),
    }), { NODE_RC: "1", WORKERS_RC: "1" });
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")).toEqual([
      "FAILED test/a.test.ts > a suite times out: Error: Test timed out in 60000ms.",
      "FAILED test/worker/b.test.ts > b answers 503: AssertionError: expected 200 to be 503",
      "labhog: 1 passed, 2 failed, 0 skipped",
      "",
    ]);
  });

  it("a file that failed with no failed test (an error loading it, or in a hook) is named and fails the run", async () => {
    const r = await run((dir) => ({
      "node.json": report(dir, [
        { name: "test/c.test.ts", status: "failed", message: "Error: Hook timed out in 60000ms.\nmore", tests: [{ fullName: "c works", status: "passed" }] },
        { name: "test/d.test.ts", status: "failed", message: "SyntaxError: Unexpected token" }, // failed to load: no assertion results at all
      ]),
    }));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("FAILED test/c.test.ts: Error: Hook timed out in 60000ms.\n");
    expect(r.stdout).toContain("FAILED test/d.test.ts: SyntaxError: Unexpected token\n");
    expect(r.stdout).toContain("labhog: 1 passed, 0 failed, 0 skipped");
  });

  it("a missing report, a run's non-zero exit and a changed host each fail the run, saying so", async () => {
    const ok = (dir: string) => ({ "node.json": report(dir, [{ name: "test/a.test.ts", status: "passed", tests: [{ fullName: "a works", status: "passed" }] }]) });
    const missing = await run(ok, {}, ["workers.json"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no test report: workers.json");
    const exited = await run(ok, { WORKERS_RC: "2" });
    expect(exited.code).toBe(1);
    expect(exited.stderr).toContain("a test run exited 2 without a failed test");
    const host = await run(ok, { HOST_RC: "1" });
    expect(host.code).toBe(1);
    expect(host.stderr).toContain("changed the machine itself or left temporary folders behind");
  });
});
