import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outbox, type OutboxMessage, type OutboxSink } from "../../worker/broker/outbox.ts";
import { startMosquitto, type MosquittoService } from "../services/mosquitto.ts";

/**
 * The Broker's outbox against a real Mosquitto, through MQTT.js as the
 * Broker uses it: a turn's publishes go out together and each caller hears
 * its own PUBACK; a newer retained message for a topic replaces the queued
 * one; failures reach every caller as `ok: false` (the ledger retries).
 */
let broker: MosquittoService;
let publisher: mqtt.MqttClient;
beforeAll(async () => {
  broker = await startMosquitto();
  publisher = await mqtt.connectAsync(broker.url, { clientId: "outbox-test" });
});
afterAll(async () => {
  await publisher?.endAsync();
  await broker?.stop();
});

function sinkOf(client: mqtt.MqttClient, sent: OutboxMessage[]): OutboxSink {
  return {
    ready: async () => (client.connected ? undefined : "not connected"),
    send: (m, done) => {
      sent.push(m);
      client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain }, (e) => done(e ?? undefined));
    },
  };
}

async function retainedOf(topics: string[]): Promise<Map<string, string>> {
  const c = await mqtt.connectAsync(broker.url);
  const got = new Map<string, string>();
  c.on("message", (t, p) => got.set(t, p.toString()));
  await c.subscribeAsync(topics, { qos: 1 });
  for (const end = Date.now() + 10_000; got.size < topics.length && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
  await c.endAsync();
  return got;
}

describe("Broker outbox", () => {
  it("a turn's publishes go out in one flush; every caller gets ok after its PUBACK; the retained messages are there", async () => {
    const sent: OutboxMessage[] = [];
    const box = new Outbox(() => sinkOf(publisher, sent), 5_000);
    const topics = Array.from({ length: 200 }, (_, i) => `outbox/a/r${i}/schedule`);
    const results = topics.map((topic, i) => box.publish({ topic, payload: `seq ${i}`, qos: 1, retain: true }));
    expect(box.size).toBe(200);
    expect(await Promise.all(results)).toEqual(topics.map(() => ({ ok: true })));
    expect(sent.map((m) => m.topic)).toEqual(topics);
    const retained = await retainedOf(topics);
    expect(topics.map((t) => retained.get(t))).toEqual(topics.map((_, i) => `seq ${i}`));
  });

  it("a newer retained message for a queued topic replaces it, and both callers hear the outcome; non-retained messages are never merged", async () => {
    const sent: OutboxMessage[] = [];
    const box = new Outbox(() => sinkOf(publisher, sent), 5_000);
    const older = box.publish({ topic: "outbox/b/r1/schedule", payload: "seq 1", qos: 1, retain: true });
    const other = box.publish({ topic: "outbox/b/r2/schedule", payload: "seq 7", qos: 1, retain: true });
    const newer = box.publish({ topic: "outbox/b/r1/schedule", payload: "seq 2", qos: 1, retain: true });
    const c1 = box.publish({ topic: "outbox/b/console/in", payload: "a", qos: 1, retain: false });
    const c2 = box.publish({ topic: "outbox/b/console/in", payload: "b", qos: 1, retain: false });
    expect(box.size).toBe(4);
    expect(await Promise.all([older, other, newer, c1, c2])).toEqual(Array(5).fill({ ok: true }));
    expect(sent.map((m) => `${m.topic} ${m.payload}`)).toEqual(["outbox/b/r1/schedule seq 2", "outbox/b/r2/schedule seq 7", "outbox/b/console/in a", "outbox/b/console/in b"]);
    const retained = await retainedOf(["outbox/b/r1/schedule", "outbox/b/r2/schedule"]);
    expect(retained.get("outbox/b/r1/schedule")).toBe("seq 2");
  });

  it("no connection, or no broker configured: every queued caller gets ok: false with the reason; later publishes are tried again", async () => {
    const down = await mqtt.connectAsync(broker.url);
    await down.endAsync();
    const sent: OutboxMessage[] = [];
    let sink: OutboxSink | string = "no MQTT broker configured";
    const box = new Outbox(() => sink, 5_000);
    expect(await Promise.all([box.publish({ topic: "outbox/c/1", payload: "x", qos: 1, retain: true }), box.publish({ topic: "outbox/c/2", payload: "x", qos: 1, retain: true })])).toEqual(Array(2).fill({ ok: false, error: "no MQTT broker configured" }));
    sink = sinkOf(down, sent);
    expect(await box.publish({ topic: "outbox/c/1", payload: "x", qos: 1, retain: true })).toEqual({ ok: false, error: "not connected" });
    expect(sent).toEqual([]);
    sink = sinkOf(publisher, sent);
    expect(await box.publish({ topic: "outbox/c/1", payload: "y", qos: 1, retain: true })).toEqual({ ok: true });
    expect(sent.map((m) => m.payload)).toEqual(["y"]);
  });

  it("a broker that never acknowledges: the caller hears 'no PUBACK in time'", async () => {
    const box = new Outbox(() => ({ ready: async () => undefined, send: () => undefined }), 200);
    expect(await box.publish({ topic: "outbox/d/1", payload: "x", qos: 1, retain: true })).toEqual({ ok: false, error: "no PUBACK in time" });
  });
});
