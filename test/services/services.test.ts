import { afterAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import { startRadicale } from "./radicale.ts";
import { startXandikos } from "./xandikos.ts";
import { startMosquitto } from "./mosquitto.ts";

describe("test services start and answer", () => {
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => { for (const s of stops) await s(); });

  it("radicale answers PROPFIND with auth", async () => {
    const r = await startRadicale();
    stops.push(r.stop);
    const res = await fetch(r.url, { method: "PROPFIND", headers: { Depth: "0", Authorization: "Basic " + btoa(`${r.username}:${r.password}`) } });
    expect(res.status).toBe(207);
    const denied = await fetch(r.url, { method: "PROPFIND", headers: { Depth: "0" } });
    expect(denied.status).toBe(401);
  });

  it("xandikos serves its default calendar", async () => {
    const x = await startXandikos();
    stops.push(x.stop);
    const res = await fetch(x.calendarUrl, { method: "PROPFIND", headers: { Depth: "0" } });
    expect(res.status).toBe(207);
  });

  it("mosquitto relays over TCP and WebSocket", async () => {
    const m = await startMosquitto();
    stops.push(m.stop);
    const sub = await mqtt.connectAsync(m.url);
    const pub = await mqtt.connectAsync(m.wsUrl);
    await sub.subscribeAsync("t/x");
    const got = new Promise<string>((resolve) => sub.on("message", (_t, p) => resolve(p.toString())));
    await pub.publishAsync("t/x", "hello");
    expect(await got).toBe("hello");
    await sub.endAsync();
    await pub.endAsync();
  });
});
