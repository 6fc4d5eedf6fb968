#!/usr/bin/env node
// The closing lines of `npm test`, from the two vitest JSON reports (Node and workerd).
// CI keeps only the tail of a long log, so each failed test is named there, with the
// first line of its error, right above the count. A run that wrote no report (it
// crashed) fails the whole; so does a run that exited non-zero without a failed test.
// Usage: test-summary.mjs <report.json>...   env: NODE_RC, WORKERS_RC, HOST_RC
import { existsSync, readFileSync } from "node:fs";
import { relative } from "node:path";

const firstLine = (s) => String(s ?? "").split("\n")[0];
let passed = 0, failedCount = 0, skipped = 0;
const missing = [], failed = [];
for (const report of process.argv.slice(2)) {
  if (!existsSync(report)) { missing.push(report); continue; }
  const r = JSON.parse(readFileSync(report, "utf8"));
  passed += r.numPassedTests;
  failedCount += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  for (const file of r.testResults ?? []) {
    const name = relative(process.cwd(), file.name);
    const failedTests = (file.assertionResults ?? []).filter((a) => a.status === "failed");
    for (const a of failedTests) failed.push(`${name} > ${a.fullName}: ${firstLine(a.failureMessages?.[0])}`);
    // A file can fail with no failed test: an error while loading it, or in a hook.
    if (file.status === "failed" && failedTests.length === 0) failed.push(`${name}: ${firstLine(file.message)}`);
  }
}
for (const line of failed) console.log(`FAILED ${line}`);
console.log(`labhog: ${passed} passed, ${failedCount} failed, ${skipped} skipped`);
if (missing.length) console.error(`no test report: ${missing.join(", ")}`);
const rc = Number(process.env.NODE_RC) || Number(process.env.WORKERS_RC);
if (!failedCount && rc) console.error(`a test run exited ${rc} without a failed test (a failed file or setup): see above`);
const host = Number(process.env.HOST_RC);
if (host) console.error("the tests changed the machine itself or left temporary folders behind: see above");
process.exit(failedCount || failed.length || missing.length || rc || host ? 1 : 0);
