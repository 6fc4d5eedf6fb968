import { expect, it } from "vitest";
import { jsonLogger, type Level } from "../../calendar/log.ts";

it("writes one JSON object per line, filters by level, merges child fields and keeps error messages", () => {
  const lines: Array<[Level, string]> = [];
  let min: Level = "info";
  const log = jsonLogger({ minLevel: () => min, write: (l, line) => lines.push([l, line]), base: { component: "t" } });
  log.debug("hidden");
  log.child({ resource: "r1" }).warn("careful", { error: new Error("boom") });
  min = "debug";
  log.debug("now shown");
  expect(lines.map(([l]) => l)).toEqual(["warn", "debug"]);
  const rec = JSON.parse(lines[0]![1]);
  expect(rec).toMatchObject({ level: "warn", msg: "careful", component: "t", resource: "r1", error: { name: "Error", message: "boom" } });
  expect(Date.parse(rec.time)).not.toBeNaN();
});
