import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CompactSign, importJWK } from "jose";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, type TimedEvent } from "../../edge-agent/agent/agent.ts";
import { loadAgentConfig } from "../../edge-agent/config/agent-config.ts";
import { createLogger } from "../../edge-agent/log.ts";
import { startMosquitto, type MosquittoService } from "../services/mosquitto.ts";
import { tempDir } from "../services/process.ts";
import { agentYaml, entry, listen, makeStandins, schedule, sign, testKey, type TestKey } from "./helpers.ts";

/**
 * Real Mosquitto, schedules signed by the test with real Ed25519 keys.
 * Only the valid schedule changes anything: state.json (seq, schedule),
 * the motd, the status summary, and the notify commands run.
 */
let broker: MosquittoService;
let dir: string;
let key: TestKey;
let forger: TestKey;
let pub: MqttClient;
let agent: Agent;
let events: TimedEvent[] = [];
let standins: Awaited<ReturnType<typeof makeStandins>>;
const topic = "labhog/lab/resources/host1/schedule";
const quiet = createLogger({ level: "error" });

async function startAgent(name = "host1", stateDir = join(dir, "state")): Promise<Agent> {
  const cfgPath = join(dir, `${name}.yaml`);
  await writeFile(cfgPath, agentYaml({ agent: name, brokerUrl: broker.url, stateDir, publicJwk: key.publicJwk, kid: key.kid, extra: `notify: { motd: ${join(dir, "motd")} }\nstatusUrl: https://lab.example/status` }).replace("hog: false", "hog: false, notify: true"));
  const a = new Agent({ config: await loadAgentConfig(cfgPath), log: quiet, onEvent: (e) => events.push(e), modules: {}, claimSettleMs: 100 });
  await a.start();
  return a;
}

/** Any event so far (or later) matching pred. */
async function anyEvent(pred: (e: TimedEvent) => boolean, timeoutMs = 10_000): Promise<TimedEvent> {
  for (const t0 = Date.now(); Date.now() - t0 < timeoutMs; await new Promise((r) => setTimeout(r, 10))) {
    const e = events.find(pred);
    if (e) return e;
  }
  throw new Error(`no such event; saw ${JSON.stringify(events)}`);
}

function nextEvent(pred: (e: TimedEvent) => boolean, timeoutMs = 10_000): Promise<TimedEvent> {
  const start = events.length;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      const e = events.slice(start).find(pred);
      if (e) { clearInterval(poll); resolve(e); }
      else if (Date.now() - t0 > timeoutMs) { clearInterval(poll); reject(new Error(`no such event; saw ${JSON.stringify(events.slice(start))}`)); }
    }, 10);
  });
}

const state = async () => JSON.parse(await readFile(join(dir, "state", "state.json"), "utf8"));
const summary = async () => JSON.parse(await readFile(join(dir, "state", "status.json"), "utf8"));
const motd = () => readFile(join(dir, "motd"), "utf8");

async function publishAndExpectRejected(payload: string | Buffer, reason: string): Promise<void> {
  const rejected = nextEvent((e) => e.action === "schedule-rejected");
  await pub.publishAsync(topic, payload, { qos: 1, retain: true });
  const e = await rejected;
  expect(e.ok).toBe(false);
  expect(e.message).toMatch(new RegExp(`^${reason}:`));
}

beforeAll(async () => {
  broker = await startMosquitto();
  dir = await tempDir("agent-intake");
  key = await testKey("lab-2026");
  forger = await testKey("lab-2026"); // same kid, different key: a forgery
  standins = await makeStandins(dir, ["wall", "tmux"], { tmux: `if (process.argv[2] === "list-clients") console.log("/dev/pts/77");` });
  process.env.PATH = `${standins.bin}:${process.env.PATH}`;
  pub = await mqtt.connectAsync(broker.url);
  agent = await startAgent();
});

afterAll(async () => {
  await agent?.stop();
  await pub?.endAsync();
  await broker?.stop();
});

describe("schedule intake", () => {
  const now = Date.now();
  const valid = schedule("host1", 10, [entry({ id: "res-bob", start: new Date(now - 60_000), end: new Date(now + 3600_000), holder: { id: "bob", unix: ["bob"] } })]);

  it("accepts a valid schedule: state, motd, summary, notifications, events on MQTT", async () => {
    const ev = await listen(broker.url, "labhog/lab/agents/host1/events");
    const accepted = nextEvent((e) => e.action === "schedule-accepted");
    // Watched from before the publish too: enforcing can follow acceptance within the 10 ms the watch
    // of `accepted` takes to notice it, and a watch started after that would never see it (it flaked so).
    const enforced = nextEvent((e) => e.action === "enforced" && e.reservation === "res-bob");
    await pub.publishAsync(topic, await sign(valid, key), { qos: 1, retain: true });
    expect((await accepted).message).toContain("seq 10");
    await enforced;
    expect((await state()).resources.host1.lastSeq).toBe(10);
    expect((await state()).resources.host1.active).toBe("res-bob");
    expect(await motd()).toMatch(/bob.*<- now/);
    expect((await summary()).resources[0].holder.id).toBe("bob");
    // announcements run in the background, after enforcement
    await anyEvent((e) => e.driver === "notify" && e.action === "wall");
    await anyEvent((e) => e.driver === "notify" && e.action === "tmux-popup");
    const calls = await standins.calls();
    expect(calls.find((c) => c.cmd === "wall")!.args[0]).toMatch(/^labhog: host1 is now held by bob until/);
    expect(calls.some((c) => c.cmd === "tmux" && c.args.includes("display-popup") && c.args.includes("/dev/pts/77"))).toBe(true);
    // the same actions were published on …/agents/host1/events
    await ev.waitFor((b) => b.action === "schedule-accepted" && b.resource === "host1");
    await ev.client.endAsync();
  });

  it("ignores forged, replayed, stale, other-resource, invalid and garbage schedules", async () => {
    const before = { state: JSON.stringify((await state()).resources), motd: await motd(), summary: (await summary()).resources, calls: (await standins.calls()).length };
    const mallory = (seq: number) =>
      schedule("host1", seq, [entry({ id: "res-mallory", start: new Date(now - 1000), end: new Date(now + 3600_000), holder: { id: "mallory", unix: ["mallory"] } })]);

    await publishAndExpectRejected(await sign(mallory(11), forger), "bad-signature");
    await publishAndExpectRejected(await sign(mallory(11), { ...forger, kid: "unknown" }), "unknown-key");
    await publishAndExpectRejected(await sign(valid, key), "replayed"); // the very same message again
    await publishAndExpectRejected(await sign(mallory(10), key), "replayed"); // same seq, new content
    await publishAndExpectRejected(await sign(mallory(3), key), "replayed"); // older
    await publishAndExpectRejected(await sign(schedule("host1", 12, mallory(12).entries, 1000, new Date(now - 3600_000)), key), "expired");
    await publishAndExpectRejected(await sign(schedule("host2", 13, mallory(13).entries), key), "wrong-resource");
    await publishAndExpectRejected("hello", "malformed");
    await publishAndExpectRejected(Buffer.from([0xff, 0x00, 0x13, 0x37, 0xc3]), "malformed");
    await publishAndExpectRejected(JSON.stringify(valid), "malformed");
    // Correctly signed, but the holder's unix name is not a unix name: refused (signSchedule would not even sign it).
    const bad = { ...mallory(14), entries: [{ ...mallory(14).entries[0]!, holder: { id: "x", unix: ["x; rm -rf /"], keys: [] } }] };
    const k = await importJWK(key.privateJwk, "EdDSA");
    const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(bad))).setProtectedHeader({ alg: "EdDSA", kid: key.kid }).sign(k);
    await publishAndExpectRejected(jws, "invalid-payload");

    expect(JSON.stringify((await state()).resources)).toBe(before.state);
    expect(await motd()).toBe(before.motd);
    expect((await summary()).resources).toEqual(before.summary);
    expect((await standins.calls()).length).toBe(before.calls);
  });

  it("keeps listening: a newer valid schedule is applied (release)", async () => {
    const accepted = nextEvent((e) => e.action === "schedule-accepted" && /seq 20/.test(e.message ?? ""));
    const released = nextEvent((e) => e.action === "enforced" && e.message === "free");
    await pub.publishAsync(topic, await sign(schedule("host1", 20, []), key), { qos: 1, retain: true });
    await accepted;
    await released;
    expect((await state()).resources.host1).toMatchObject({ lastSeq: 20, active: null });
    expect((await summary()).resources[0].holder).toBeNull();
  });

  it("remembers the last seq across a restart: the retained and older schedules are refused", async () => {
    await agent.stop();
    const s = await state();
    expect(s.resources.host1.lastSeq).toBe(20);
    events = [];
    const retainedReplay = nextEvent((e) => e.action === "schedule-rejected");
    agent = await startAgent();
    expect((await retainedReplay).message).toMatch(/^replayed: schedule seq 20 is not newer than 20/);
    await publishAndExpectRejected(await sign(schedule("host1", 15, valid.entries), key), "replayed");
    expect((await state()).resources.host1.active).toBeNull();
  });
});

describe("two agents never drive one resource", () => {
  it("a second process on the same host is refused by the lock file", async () => {
    const cfgPath = join(dir, "dup.yaml");
    await writeFile(cfgPath, agentYaml({ agent: "host1-dup", brokerUrl: broker.url, stateDir: join(dir, "state"), publicJwk: key.publicJwk, kid: key.kid }));
    const dup = new Agent({ config: await loadAgentConfig(cfgPath), log: quiet, modules: {} });
    await expect(dup.start()).rejects.toThrow(/already served by agent host1 \(pid \d+\)/);
  });

  it("an agent elsewhere refuses a resource claimed by another online agent, and takes over when it goes offline", async () => {
    const mine: TimedEvent[] = [];
    const cfgPath = join(dir, "other.yaml");
    await writeFile(cfgPath, agentYaml({ agent: "host1-spare", brokerUrl: broker.url, stateDir: join(dir, "state-spare"), publicJwk: key.publicJwk, kid: key.kid }));
    const spare = new Agent({ config: await loadAgentConfig(cfgPath), log: quiet, modules: {}, onEvent: (e) => mine.push(e), claimSettleMs: 200 });
    await spare.start();
    const until = async (pred: (e: TimedEvent) => boolean) => { for (let i = 0; i < 200 && !mine.some(pred); i++) await new Promise((r) => setTimeout(r, 25)); return mine.find(pred); };
    expect((await until((e) => e.action === "refused"))?.message).toMatch(/agent host1 is online and serves host1/);
    expect(mine.some((e) => e.action === "claimed")).toBe(false);
    await agent.stop(); // publishes offline
    expect(await until((e) => e.action === "claimed")).toBeDefined();
    const claim = await listen(broker.url, "labhog/lab/resources/host1/agent");
    expect(await claim.waitFor((b) => b === "host1-spare")).toBe("host1-spare");
    await claim.client.endAsync();
    await spare.stop();
    agent = await startAgent(); // for afterAll
  });
});
