import { access, writeFile } from "node:fs/promises";
import { join } from "node:path";
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { Agent, type TimedEvent } from "../../edge-agent/agent/agent.ts";
import { loadAgentConfig } from "../../edge-agent/config/agent-config.ts";
import { loadDriverModules, schemasOf } from "../../edge-agent/agent/driver-modules.ts";
import { createLogger } from "../../edge-agent/log.ts";
import { startMosquitto } from "../services/mosquitto.ts";
import { tempDir } from "../services/process.ts";
import { agentYaml, entry, listen, schedule, sign, testKey } from "./helpers.ts";

/**
 * The agent drives the power driver (real `command` actuator: touch/rm) at a
 * reservation's start and end, and publishes the usage driver's snapshots
 * retained on …/agents/<agent>/usage with the power state in them.
 */
describe("driver wiring", () => {
  it("power on at start, off at end; usage published retained", async () => {
    const mods = await loadDriverModules();
    expect(Object.keys(mods).sort()).toEqual(["access", "console", "power", "usage", "usb"]);
    const broker = await startMosquitto();
    const dir = await tempDir("agent-wiring");
    const key = await testKey("k");
    const flag = join(dir, "powered");
    const resource = [
      "  - id: board1",
      "    kind: board",
      "    notify: false",
      "    power:",
      "      actuators: { relay: { type: command } }",
      "      devices:",
      "        main:",
      "          modes:",
      `            on: { steps: [ { actuator: relay, parameters: { argv: [touch, ${flag}] } } ] }`,
      `            off: { steps: [ { actuator: relay, parameters: { argv: [rm, -f, ${flag}] } } ] }`,
      "    usage: { intervalMs: 200, utmp: /nonexistent-utmp }",
    ].join("\n");
    const cfgPath = join(dir, "agent.yaml");
    await writeFile(cfgPath, agentYaml({ brokerUrl: broker.url, stateDir: join(dir, "state"), publicJwk: key.publicJwk, kid: key.kid, resources: [] }).replace("resources:\n", `resources:\n${resource}\n`));
    const events: TimedEvent[] = [];
    const agent = new Agent({ config: await loadAgentConfig(cfgPath, schemasOf(mods)), modules: mods, log: createLogger({ level: "error" }), onEvent: (e) => events.push(e) });
    const usage = await listen(broker.url, "labhog/lab/agents/host1/usage");
    await agent.start();
    const ev = await listen(broker.url, "labhog/lab/agents/host1/events");
    const pub = await mqtt.connectAsync(broker.url);
    const now = Date.now();
    await pub.publishAsync("labhog/lab/resources/board1/schedule", await sign(schedule("board1", 1, [entry({ id: "b1", start: new Date(now + 500), end: new Date(now + 2500) })]), key), { qos: 1 });
    await ev.waitFor((b) => b.driver === "agent" && b.action === "enforced" && b.reservation === "b1");
    await access(flag);
    expect(events.some((e) => e.driver === "power" && e.ok && /main is in mode on/.test(e.message ?? ""))).toBe(true);
    const snap = await usage.waitFor((b) => b.resources?.board1?.power?.main === "on");
    expect(snap.agent).toBe("host1");
    await ev.waitFor((b) => b.driver === "agent" && b.action === "enforced" && b.message === "free" && Date.parse(b.time) >= now + 2500, 10_000);
    await expect(access(flag)).rejects.toThrow(/ENOENT/);
    await usage.waitFor((b) => b.resources?.board1?.power?.main === "off");
    await Promise.all([usage.client.endAsync(), ev.client.endAsync(), pub.endAsync()]);
    await agent.stop();
    await broker.stop();
  }, 30_000);

  it("a config section for a driver is validated by that driver's schema, errors name the path", async () => {
    const mods = await loadDriverModules();
    const dir = await tempDir("agent-wiring-bad");
    const key = await testKey("k");
    await writeFile(join(dir, "a.yaml"), agentYaml({ brokerUrl: "mqtt://x", stateDir: join(dir, "s"), publicJwk: key.publicJwk, kid: key.kid, resources: [] }).replace("resources:\n", "resources:\n  - { id: b, power: { devices: { main: { modes: { on: { steps: [ { actuator: nope } ] } } } } } }\n"));
    await expect(loadAgentConfig(join(dir, "a.yaml"), schemasOf(mods))).rejects.toThrow(/resources\[0\]\.power\.devices\.main\.modes\.on\.steps\[0\]\.actuator: no actuator named "nope"/);
  });
});
