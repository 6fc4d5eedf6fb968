import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { StatusSummary } from "../agent/summary.ts";
import { DEFAULT_STATE_DIR, summaryPath } from "../agent/summary.ts";
import { UsageError } from "./main.ts";

/**
 * `labhog status [--file status.json] [--json]`: who holds this host until
 * when. This is also what a locked-out user's SSH key runs, so it reads only
 * the agent's world-readable summary and needs no privileges or config.
 */
export async function runStatus(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { file: { type: "string", default: summaryPath(process.env.LABHOG_STATE_DIR ?? DEFAULT_STATE_DIR) }, json: { type: "boolean" } }, strict: true }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; usage: labhog status [--file status.json] [--json]`);
  }
  let s: StatusSummary;
  try {
    s = JSON.parse(await readFile(values.file!, "utf8")) as StatusSummary;
  } catch (e) {
    throw new Error(`no labhog agent status at ${values.file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(s, null, 2) + "\n");
    return 0;
  }
  process.stdout.write(formatStatus(s, process.env.USER ?? process.env.LOGNAME));
  return 0;
}

const when = (iso: string) => iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC").replace(/:\d\d(\.\d+)?([+-]\d\d:\d\d)$/, " $2");

/** Whether the agent got the booking in place; nothing for summaries written by agents that did not report it. */
function enforcementLine(e: StatusSummary["resources"][number]["enforcement"]): string | undefined {
  if (e === undefined) return undefined;
  if (e === null) return "  enforcement: unknown (the agent has not applied the schedule yet)";
  if (e.ok) return `  enforced since ${when(e.since)}`;
  return `  NOT ENFORCED since ${when(e.since)}: ${e.problems.join("; ")}${e.retryAt ? ` (next try ${when(e.retryAt)})` : ""}`;
}

export function formatStatus(s: StatusSummary, user?: string): string {
  const out: string[] = [];
  for (const r of s.resources) {
    if (!r.holder) {
      out.push(`${r.id} is free (agent ${s.agent}).`);
    } else {
      const you = user && r.holder.unix.includes(user);
      out.push(`${r.id} is ${r.exclusive ? "held" : "shared"} by ${r.holder.id}${r.holder.unix.length ? ` (${r.holder.unix.join(", ")})` : ""} until ${when(r.end!)}${you ? " — that is you" : ""}.`);
      if (r.exclusive && !you) out.push("SSH logins of other users only show this message until the reservation ends.");
    }
    const enf = enforcementLine(r.enforcement);
    if (enf) out.push(enf);
    for (const u of r.upcoming) out.push(`  next: ${u.holder} ${when(u.start)} – ${when(u.end)}${u.exclusive ? "" : " (shared)"}`);
  }
  if (s.statusUrl) out.push(`Schedule and booking: ${s.statusUrl}`);
  out.push(`(agent ${s.agent}, updated ${when(s.updatedAt)})`);
  return out.join("\n") + "\n";
}
