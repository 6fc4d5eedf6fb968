import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../edge-agent/broker/embedded-broker.ts";

describe("embedded broker (npm start's default)", () => {
  let broker: EmbeddedBroker;
  beforeAll(async () => {
    broker = await startEmbeddedBroker({ users: { worker: "w-secret", "agent-1": "a-secret" } });
  });
  afterAll(async () => broker.close());

  it("carries retained QoS 1 messages from a WebSocket publisher to a TCP subscriber that comes later", async () => {
    const pub = await mqtt.connectAsync(broker.wsUrl, { username: "worker", password: "w-secret" });
    await pub.publishAsync("labhog/demo/resources/r1/schedule", "jws-here", { qos: 1, retain: true });
    await pub.endAsync();
    const sub = await mqtt.connectAsync(broker.url, { username: "agent-1", password: "a-secret" });
    const got = new Promise<{ payload: string; retain: boolean }>((resolve) =>
      sub.on("message", (_t, p, packet) => resolve({ payload: p.toString(), retain: packet.retain })),
    );
    await sub.subscribeAsync("labhog/demo/resources/+/schedule", { qos: 1 });
    expect(await got).toEqual({ payload: "jws-here", retain: true });
    await sub.endAsync();
  });

  it("refuses a wrong password", async () => {
    await expect(mqtt.connectAsync(broker.url, { username: "agent-1", password: "nope", reconnectPeriod: 0, connectTimeout: 3000 })).rejects.toThrow(/Not authorized|Bad username/i);
  });

  it("refuses usernames named like Object.prototype members", async () => {
    for (const username of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const password = String((Object.prototype as Record<string, unknown>)[username]);
      await expect(mqtt.connectAsync(broker.url, { username, password, reconnectPeriod: 0, connectTimeout: 3000 }), username).rejects.toThrow(/Not authorized|Bad username/i);
    }
  });

  it("publishes the last will when a client vanishes", async () => {
    const watcher = await mqtt.connectAsync(broker.url, { username: "worker", password: "w-secret" });
    await watcher.subscribeAsync("labhog/demo/agents/a1/status");
    const seen: string[] = [];
    watcher.on("message", (_t, p) => seen.push(p.toString()));
    const agent = await mqtt.connectAsync(broker.url, {
      username: "agent-1", password: "a-secret", reconnectPeriod: 0,
      will: { topic: "labhog/demo/agents/a1/status", payload: Buffer.from("offline"), qos: 1, retain: true },
    });
    await agent.publishAsync("labhog/demo/agents/a1/status", "online", { qos: 1, retain: true });
    (agent as unknown as { stream: { destroy(): void } }).stream.destroy();
    await expect.poll(() => seen, { timeout: 5000 }).toContain("offline");
    expect(seen[0]).toBe("online");
    await watcher.endAsync();
  });
});
