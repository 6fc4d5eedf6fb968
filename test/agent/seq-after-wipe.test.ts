import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, type TimedEvent } from "../../edge-agent/agent/agent.ts";
import { loadAgentConfig } from "../../edge-agent/config/agent-config.ts";
import { createLogger } from "../../edge-agent/log.ts";
import { nextSeq } from "../../worker/schedule/seq.ts";
import { startMosquitto, type MosquittoService } from "../services/mosquitto.ts";
import { tempDir } from "../services/process.ts";
import { agentYaml, entry, schedule, sign, testKey, type TestKey } from "./helpers.ts";

/**
 * The Worker loses its ledger's storage (wiped, migrated or renamed Durable
 * Object); the agent keeps its state. The seq the ledger issues next
 * (worker/schedule/seq.ts, as publishing.ts calls it) is accepted by the
 * real agent at the first publish, and replays of old schedules stay refused.
 */
let broker: MosquittoService;
let dir: string;
let key: TestKey;
let pub: MqttClient;
let agent: Agent;
const events: TimedEvent[] = [];
const topic = "labhog/lab/resources/host1/schedule";

async function startAgent(): Promise<Agent> {
  const cfgPath = join(dir, "host1.yaml");
  await writeFile(cfgPath, agentYaml({ agent: "host1", brokerUrl: broker.url, stateDir: join(dir, "state"), publicJwk: key.publicJwk, kid: key.kid }));
  const a = new Agent({ config: await loadAgentConfig(cfgPath), log: createLogger({ level: "error" }), onEvent: (e) => events.push(e), modules: {}, claimSettleMs: 100 });
  await a.start();
  return a;
}

function nextEvent(pred: (e: TimedEvent) => boolean, timeoutMs = 10_000): Promise<TimedEvent> {
  const start = events.length;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      const e = events.slice(start).find(pred);
      if (e) {
        clearInterval(poll);
        resolve(e);
      } else if (Date.now() - t0 > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`no such event; saw ${JSON.stringify(events.slice(start))}`));
      }
    }, 10);
  });
}

const state = async () => JSON.parse(await readFile(join(dir, "state", "state.json"), "utf8"));

beforeAll(async () => {
  broker = await startMosquitto();
  dir = await tempDir("agent-seq-wipe");
  key = await testKey("lab-2026");
  pub = await mqtt.connectAsync(broker.url);
  agent = await startAgent();
});

afterAll(async () => {
  await agent?.stop();
  await pub?.endAsync();
  await broker?.stop();
});

describe("schedule seq across a Worker that lost its state", () => {
  it("the first schedule after the wipe is enforced; the old ones stay refused", async () => {
    const now = Date.now();
    // Before: the ledger has published a while (its stored seq moved on).
    let stored = 0;
    for (let i = 0; i < 3; i++) stored = nextSeq(stored, now - 60_000 + i);
    const old = await sign(schedule("host1", stored, [entry({ id: "res-alice", start: new Date(now - 60_000), end: new Date(now + 3_600_000), holder: { id: "alice", unix: ["alice"] } })], 24 * 3_600_000, new Date(now - 60_000)), key);
    const first = nextEvent((e) => e.action === "enforced" && e.reservation === "res-alice");
    await pub.publishAsync(topic, old, { qos: 1, retain: true });
    await first;
    expect((await state()).resources.host1.lastSeq).toBe(stored);

    // The wipe: the ledger's stored seq is gone. A counter would restart at 1 and be refused forever:
    const counter = nextEvent((e) => e.action === "schedule-rejected");
    await pub.publishAsync(topic, await sign(schedule("host1", 1, []), key), { qos: 1, retain: true });
    expect((await counter).message).toMatch(/^replayed:/);

    // The clock-derived seq of the wiped ledger: one publish, accepted and enforced.
    const seq = nextSeq(0, Date.now());
    expect(seq).toBeGreaterThan(stored);
    const accepted = nextEvent((e) => e.action === "schedule-accepted");
    const enforced = nextEvent((e) => e.action === "enforced" && e.reservation === "res-bob");
    await pub.publishAsync(topic, await sign(schedule("host1", seq, [entry({ id: "res-bob", start: new Date(Date.now() - 1000), end: new Date(Date.now() + 3_600_000), holder: { id: "bob", unix: ["bob"] } })]), key), { qos: 1, retain: true });
    expect((await accepted).message).toContain(`seq ${seq}`);
    await enforced;
    expect((await state()).resources.host1).toMatchObject({ lastSeq: seq, active: "res-bob" });

    // A replay of the schedule from before the wipe is still refused.
    const replay = nextEvent((e) => e.action === "schedule-rejected");
    await pub.publishAsync(topic, old, { qos: 1, retain: true });
    expect((await replay).message).toMatch(/^replayed:/);
    expect((await state()).resources.host1.active).toBe("res-bob");
  });
});
