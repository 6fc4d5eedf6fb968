import { parseArgs } from "node:util";
import { loadAgentConfig, type AgentConfig } from "../config/agent-config.ts";
import { Agent } from "../agent/agent.ts";
import { driversNamedIn, loadDriverModules, schemasOf, type DriverModules } from "../agent/driver-modules.ts";
import { statusCommand } from "../agent/build-drivers.ts";
import { topics } from "../agent/topics.ts";
import { tuneV8ForDaemon } from "../agent/daemon-v8.ts";
import { sshdAuthorizedKeysPatterns, splitPatterns } from "../drivers/hog/index.ts";
import { execFileArgs } from "../drivers/deps.ts";
import { createLogger } from "../log.ts";
import { UsageError } from "./main.ts";
import { parseOptions, SPECS } from "./spec.ts";

const usage = "labhog agent --config agent.yaml [--check] [--simulate]";

export async function runAgent(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { ...parseOptions(SPECS.agent.options), config: { type: "string", short: "c", default: "/etc/labhog/agent.yaml" } }, strict: true }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; usage: ${usage}`);
  }
  // Before the config is parsed: the flags apply to what is compiled from here on.
  if (!values.check) tuneV8ForDaemon();
  let mods: DriverModules = {};
  const cfg = await loadAgentConfig(values.config!, async (doc) => schemasOf((mods = await loadDriverModules(driversNamedIn(doc)))));
  if (values.check) {
    process.stdout.write(await describe(cfg, mods, values.simulate ?? false));
    return 0;
  }
  const log = createLogger({ base: { agent: cfg.agent } });
  const agent = new Agent({ config: cfg, simulate: values.simulate ?? false, log, modules: mods });
  await agent.start();
  await new Promise<void>((resolve) => {
    const done = (sig: string) => { log.info("stopping", { signal: sig }); resolve(); };
    process.once("SIGTERM", () => done("SIGTERM"));
    process.once("SIGINT", () => done("SIGINT"));
  });
  await agent.stop();
  return 0;
}

/** `--check`: what the agent would do with this config, without doing it. */
async function describe(cfg: AgentConfig, mods: DriverModules, simulate: boolean): Promise<string> {
  const t = topics(cfg.topicPrefix, cfg.agent);
  const out: string[] = [];
  out.push(`config ${cfg.source}: valid`);
  out.push(`agent ${cfg.agent} (site ${cfg.site})${simulate ? ", simulate: drivers would only report" : ""}`);
  out.push(`broker ${cfg.broker.url}${cfg.broker.username ? ` as ${cfg.broker.username}` : ""}${cfg.broker.ca ? ", custom CA" : ""}`);
  out.push(`  announce: ${t.status} = online (retained), last will offline`);
  out.push(`  events:   ${t.events}`);
  out.push(`trusted schedule keys: ${Object.keys(cfg.trustedKeys).join(", ")}`);
  out.push(`state: ${cfg.stateDir} (state.json, status.json); when the schedule expires: ${cfg.onScheduleExpiry}`);
  for (const r of cfg.resources) {
    const drivers = [r.power !== undefined && mods.power ? "power" : "", r.usb !== undefined && mods.usb ? "usb" : "", r.hog ? "hog" : "", r.notify ? "notify" : "", r.usage !== undefined && mods.usage ? "usage" : ""].filter(Boolean);
    out.push(`resource ${r.id} (${r.kind}): subscribe ${t.schedule(r.id)}; drivers: ${drivers.join(", ") || "none"}`);
  }
  if (cfg.resources.some((r) => r.hog)) {
    const patterns = cfg.hog.authorizedKeysFile !== undefined ? splitPatterns(cfg.hog.authorizedKeysFile) : await sshdAuthorizedKeysPatterns(cfg.hog, execFileArgs);
    out.push(`hog: AuthorizedKeysFile ${patterns.join(" ")}; locked keys run: ${statusCommand(cfg)}`);
    out.push(`  never locked out: root${[...cfg.hog.admins, ...cfg.hog.exemptUsers].map((u) => `, ${u}`).join("")}`);
    if (cfg.hog.stopUnits.length) out.push(`  while hogged, stop: ${cfg.hog.stopUnits.join(", ")}`);
    if (cfg.hog.sessionGrace !== "off") out.push(`  other users' sessions: warned, ended after ${cfg.hog.sessionGrace}${typeof cfg.hog.sessionGrace === "number" ? " s" : ""}`);
  }
  if (cfg.resources.some((r) => r.notify)) out.push(`notify: motd ${cfg.notify.motd === false ? "off" : cfg.notify.motd}; wall ${cfg.notify.wall ? "on" : "off"}; tmux popups ${cfg.notify.tmux ? "on" : "off"}; reminder ${cfg.notify.endingSoon} before the end`);
  if (cfg.worker) out.push(`usage: POST to ${cfg.worker.url}`);
  return out.join("\n") + "\n";
}
