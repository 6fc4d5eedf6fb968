import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { Agent, type TimedEvent } from "../../edge-agent/agent/agent.ts";
import { loadAgentConfig } from "../../edge-agent/config/agent-config.ts";
import { createLogger } from "../../edge-agent/log.ts";
import { startMosquitto, type MosquittoService } from "../services/mosquitto.ts";
import { tempDir } from "../services/process.ts";
import { agentYaml, entry, makeStandins, schedule, sign, testKey } from "./helpers.ts";

/**
 * Enforcement by the agent's own clock: the broker is stopped right after
 * the schedule arrived; start and end must still be applied within 1 s
 * (a correctness bound). Drivers: notify (motd + STAND-IN wall/tmux).
 */
const quiet = createLogger({ level: "error" });
let broker: MosquittoService | undefined;
let agent: Agent | undefined;

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  await broker?.stop().catch(() => {});
  broker = undefined;
});

async function setup(policy: "keep" | "release") {
  broker = await startMosquitto();
  const dir = await tempDir("agent-boundary");
  const key = await testKey("k");
  const standins = await makeStandins(dir, ["wall", "tmux"]);
  process.env.PATH = `${standins.bin}:${process.env.PATH}`;
  const cfgPath = join(dir, "agent.yaml");
  await writeFile(cfgPath, agentYaml({ brokerUrl: broker.url, stateDir: join(dir, "state"), publicJwk: key.publicJwk, kid: key.kid, extra: `onScheduleExpiry: ${policy}\nnotify: { motd: ${join(dir, "motd")} }` }).replace("hog: false", "hog: false, notify: true"));
  const events: TimedEvent[] = [];
  agent = new Agent({ config: await loadAgentConfig(cfgPath), log: quiet, onEvent: (e) => events.push({ ...e, time: new Date().toISOString() }), modules: {} });
  await agent.start();
  const waitEvent = async (pred: (e: TimedEvent) => boolean, timeoutMs = 15_000) => {
    for (const t0 = Date.now(); Date.now() - t0 < timeoutMs; await new Promise((r) => setTimeout(r, 5))) {
      const e = events.find(pred);
      if (e) return { e, at: Date.parse(e.time) };
    }
    throw new Error(`no such event; saw ${JSON.stringify(events)}`);
  };
  const publish = async (s: ReturnType<typeof schedule>) => {
    const pub = await mqtt.connectAsync(broker!.url);
    await pub.publishAsync("labhog/lab/resources/host1/schedule", await sign(s, key), { qos: 1, retain: true });
    await pub.endAsync();
  };
  return { events, waitEvent, publish };
}

describe("boundaries by the agent's clock", () => {
  it("applies start and end within 1 s with the broker stopped", async () => {
    const { waitEvent, publish } = await setup("keep");
    const now = Date.now();
    const start = now + 2500;
    const end = now + 5000;
    await publish(schedule("host1", 1, [entry({ id: "r1", start: new Date(start), end: new Date(end) })]));
    await waitEvent((e) => e.action === "schedule-accepted");
    await broker!.stop();
    broker = undefined;
    const on = await waitEvent((e) => e.action === "enforced" && e.reservation === "r1");
    const off = await waitEvent((e) => e.action === "enforced" && e.message === "free" && Date.parse(e.time) > on.at);
    const startLate = on.at - start;
    const endLate = off.at - end;
    console.log(JSON.stringify({ startLateMs: startLate, endLateMs: endLate }));
    expect(startLate).toBeGreaterThanOrEqual(0);
    expect(startLate).toBeLessThan(1000);
    expect(endLate).toBeGreaterThanOrEqual(0);
    expect(endLate).toBeLessThan(1000);
  }, 30_000);

  it("policy release: when validUntil passes with no update, the holder is released", async () => {
    const { waitEvent, publish } = await setup("release");
    const now = Date.now();
    await publish(schedule("host1", 1, [entry({ id: "r1", start: new Date(now - 1000), end: new Date(now + 3600_000) })], 3000, new Date(now)));
    const on = await waitEvent((e) => e.action === "enforced" && e.reservation === "r1");
    const expired = await waitEvent((e) => e.action === "schedule-expired");
    // After the hold: the agent also reports "free" at start-up, before it has any schedule.
    const free = await waitEvent((e) => e.action === "enforced" && e.message === "free" && Date.parse(e.time) >= on.at);
    expect(expired.e.message).toMatch(/policy release/);
    expect(free.at).toBeGreaterThanOrEqual(now + 3000); // not before validUntil
    expect(free.at - (now + 3000)).toBeLessThan(1000);
  }, 30_000);

  it("policy keep: when validUntil passes, the known reservation stays enforced", async () => {
    const { events, waitEvent, publish } = await setup("keep");
    const now = Date.now();
    await publish(schedule("host1", 1, [entry({ id: "r1", start: new Date(now - 1000), end: new Date(now + 3600_000) })], 2000, new Date(now)));
    const on = await waitEvent((e) => e.action === "enforced" && e.reservation === "r1");
    const expired = await waitEvent((e) => e.action === "schedule-expired");
    expect(expired.e.message).toMatch(/policy keep/);
    await new Promise((r) => setTimeout(r, 500));
    expect(events.some((e) => e.action === "enforced" && e.message === "free" && Date.parse(e.time) >= on.at)).toBe(false);
    expect(agent!.runners.get("host1")!.active?.id).toBe("r1");
  }, 30_000);
});
