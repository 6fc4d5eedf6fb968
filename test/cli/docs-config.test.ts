import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { labConfigSchema } from "../../calendar/config/lab-config.ts";
import { agentConfigSchema } from "../../edge-agent/config/agent-config.ts";
import { fieldPaths } from "./schema-fields.ts";

/**
 * docs/configuration.md must name every field of the lab and agent schemas,
 * written as `path` in backticks: record keys are `*`, array items `[]`
 * (`resources.*.pool`, `resources[].hog`), lab fields under "## The lab file",
 * agent fields under "## The agent file". A field added to a schema without
 * a line in the docs fails here.
 */
const LAB = "## The lab file";
const AGENT = "## The agent file";
/** The lab section and the agent section of the doc (both files have `site` and `resources`, so each is checked in its own section). */
async function sections(): Promise<{ lab: string; agent: string }> {
  const text = await readFile(join(import.meta.dirname, "..", "..", "docs", "configuration.md"), "utf8");
  const l = text.indexOf(LAB);
  const a = text.indexOf(AGENT);
  expect(l, `docs/configuration.md needs a "${LAB}" heading`).toBeGreaterThanOrEqual(0);
  expect(a, `docs/configuration.md needs a "${AGENT}" heading after the lab one`).toBeGreaterThan(l);
  const next = text.indexOf("\n## ", a + AGENT.length);
  return { lab: text.slice(l, a), agent: text.slice(a, next < 0 ? undefined : next) };
}

describe("docs/configuration.md covers the schemas", () => {
  it("walks the schemas (the walker itself finds nested fields)", () => {
    const lab = fieldPaths(labConfigSchema);
    expect(lab).toContain("policy.syncInterval");
    expect(lab).toContain("calendars.*.passwordSecret");
    expect(lab).toContain("resources.*.pool");
    expect(fieldPaths(agentConfigSchema())).toContain("resources[].hog");
    expect(fieldPaths(agentConfigSchema())).toContain("hog.sessionGrace");
  });

  it("names every lab config field", async () => {
    const { lab } = await sections();
    const missing = fieldPaths(labConfigSchema).filter((p) => !lab.includes(`\`${p}\``));
    expect(missing, `add these lab fields to docs/configuration.md: ${missing.join(", ")}`).toEqual([]);
  });

  it("names every agent config field", async () => {
    const { agent } = await sections();
    const missing = fieldPaths(agentConfigSchema()).filter((p) => !agent.includes(`\`${p}\``));
    expect(missing, `add these agent fields to docs/configuration.md: ${missing.join(", ")}`).toEqual([]);
  });
});
