import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { JWK } from "jose";
import { verifySchedule } from "../../calendar/schedule/schedule.ts";
import { api, configure, enc, inMinutes } from "./helpers.ts";
import { publish, restartBroker, retained, retainedMatching } from "./mqtt-tap.ts";

const SITE = `m${crypto.randomUUID().slice(0, 6)}`;
const PREFIX = `test/${SITE}`;
let publicJwk: JWK;

beforeAll(async () => {
  ({ publicJwk } = await configure({}, { site: SITE }));
});

const verify = (jws: string, resource: string, lastSeq?: number) =>
  verifySchedule(jws, { keys: { [publicJwk.kid!]: publicJwk }, resources: [resource], ...(lastSeq !== undefined ? { lastSeq: () => lastSeq } : {}) });

describe("signed schedules over MQTT", () => {
  it("a booking publishes a retained, signed schedule that a real MQTT client verifies; seq increases", async () => {
    const c = await api("POST", "/api/v1/reservations", { resource: "host1", start: inMinutes(30), end: inMinutes(90), purpose: "flash", mode: "dfu", image: "https://images.example.com/rk3588/v1.img" });
    expect(c.status).toBe(201);
    const topic = `${PREFIX}/resources/host1/schedule`;
    const first = await retainedMatching(topic, async (p) => (await verify(p, "host1")).entries.length === 1);
    const s1 = await verify(first.payload, "host1");
    // Retained: a subscriber arriving later still gets it.
    const again = await retained(topic);
    expect(again?.retained).toBe(true);
    expect((await verify(again!.payload, "host1")).seq).toBeGreaterThanOrEqual(s1.seq);
    expect(s1.entries[0]).toMatchObject({ holder: { id: "alice", unix: ["alice"] }, mode: "dfu", image: "https://images.example.com/rk3588/v1.img", exclusive: true });
    expect(s1.entries[0]!.holder.keys[0]).toMatch(/^ssh-ed25519 /);
    expect(s1.entries[0]!.id).toBe(c.body.reservation.id.slice("host1:".length));

    await api("PATCH", `/api/v1/reservations/${enc(c.body.reservation.id)}`, { extendBy: "1h" });
    const extendedEnd = Date.parse(s1.entries[0]!.end) + 3_600_000;
    const second = await retainedMatching(topic, async (p) => {
      const s = await verify(p, "host1");
      return s.seq > s1.seq && Date.parse(s.entries[0]?.end ?? "") === extendedEnd;
    });
    const s2 = await verify(second.payload, "host1", s1.seq);
    expect(s2.seq).toBeGreaterThan(s1.seq);
    expect(Date.parse(s2.entries[0]!.end)).toBe(Date.parse(s1.entries[0]!.end) + 3_600_000);
    // A replay of the older one is refused by the agent-side check.
    await expect(verify(first.payload, "host1", s2.seq)).rejects.toThrow(/not newer/);
    // The key agents configure is published too.
    const keys = await api("GET", "/api/v1/schedule-keys");
    expect(keys.body.keys[0]).toMatchObject({ kid: publicJwk.kid, x: publicJwk.x });
    expect(keys.body.keys[0].d).toBeUndefined();
  });

  it("a booking beyond the schedule window signs nothing new, and its pending mark is cleared; a publish that went out leaves no retry alarm", async () => {
    // Syncs an hour apart: the ledger's next alarm is then the near booking's start, unless a publish retry was left armed.
    ({ publicJwk } = await configure({}, { site: SITE, syncInterval: "1h" }));
    const E = env as unknown as { LEDGER: DurableObjectNamespace };
    const stub = E.LEDGER.get(E.LEDGER.idFromName("lone"));
    const meta = () => runInDurableObject(stub, async (_i, state) => (await state.storage.get<{ publishPending: boolean; seq: number }>("meta"))!);
    const settled = async () => {
      let m = await meta();
      for (let i = 0; i < 40 && m.publishPending; i++) m = (await new Promise((r) => setTimeout(r, 100)), await meta());
      return m;
    };
    const topic = `${PREFIX}/resources/lone/schedule`;
    const alarmIn = async () => (await runInDurableObject(stub, (_i, state) => state.storage.getAlarm()))! - Date.now();
    const first = await api("POST", "/api/v1/reservations", { resource: "lone", start: inMinutes(30), end: inMinutes(60), purpose: "near" });
    expect(first.status).toBe(201);
    await retainedMatching(topic, async (p) => (await verify(p, "lone")).entries.length === 1);
    // The new ledger's first alarm (armed before its first sync) comes and goes; then the next is the booking's start.
    let next = await alarmIn();
    for (let i = 0; i < 50 && next < 60_000; i++) next = (await new Promise((r) => setTimeout(r, 100)), await alarmIn());
    expect(next).toBeGreaterThan(60_000);
    // A second booking in the window: published, and the retry it might have needed is not left armed (5 s).
    const near = await api("POST", "/api/v1/reservations", { resource: "lone", start: inMinutes(90), end: inMinutes(120), purpose: "near" });
    expect(near.status).toBe(201);
    const s1 = await verify((await retainedMatching(topic, async (p) => (await verify(p, "lone")).entries.length === 2)).payload, "lone");
    const before = await settled();
    expect(before).toMatchObject({ publishPending: false, seq: s1.seq });
    expect(await alarmIn()).toBeGreaterThan(60_000);
    // Three days ahead: outside the 24 h window, so the agents' schedule is what it was.
    const far = await api("POST", "/api/v1/reservations", { resource: "lone", start: inMinutes(72 * 60), end: inMinutes(73 * 60), purpose: "far" });
    expect(far.status).toBe(201);
    const after = await settled();
    expect(after).toMatchObject({ publishPending: false, seq: s1.seq });
    expect((await verify((await retained(topic))!.payload, "lone")).seq).toBe(s1.seq);
    ({ publicJwk } = await configure({}, { site: SITE }));
  });

  it("a boundary (a reservation ending) republishes from the alarm", async () => {
    const c = await api("POST", "/api/v1/reservations", { resource: "usb1", duration: 8, purpose: "short" } /* long enough for the tap to see it held on a loaded machine */);
    expect(c.status).toBe(201);
    const topic = `${PREFIX}/resources/usb1/schedule`;
    const withIt = await verify((await retainedMatching(topic, async (p) => (await verify(p, "usb1")).entries.length === 1)).payload, "usb1");
    // No API call after this: only the ledger's alarm at the end boundary can publish the empty schedule.
    const after = await retainedMatching(topic, async (p) => (await verify(p, "usb1")).entries.length === 0, 30_000);
    expect((await verify(after.payload, "usb1")).seq).toBeGreaterThan(withIt.seq);
  });
});

describe("agents' status and usage", () => {
  it("shows online/offline, last seen and the latest usage; any-free-one skips offline agents", async () => {
    const usage = { at: new Date().toISOString(), sessions: [{ user: "bob", from: "10.0.0.7", idle: 3 }], power: "on" };
    await publish(`${PREFIX}/agents/host1/status`, "online");
    await publish(`${PREFIX}/agents/host1/usage`, JSON.stringify(usage));
    await publish(`${PREFIX}/agents/host2/status`, JSON.stringify({ status: "offline" }));
    let r: any;
    for (let i = 0; i < 40; i++) {
      r = (await api("GET", "/api/v1/resources")).body.resources;
      if (r.find((x: any) => x.id === "host2")?.agent.status === "offline" && r.find((x: any) => x.id === "host1")?.usage) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    const h1 = r.find((x: any) => x.id === "host1");
    expect(h1.agent).toMatchObject({ id: "host1", status: "online" });
    expect(Date.parse(h1.agent.lastSeen)).toBeGreaterThan(Date.now() - 60_000);
    expect(h1.usage).toEqual(usage);
    expect(r.find((x: any) => x.id === "host2").agent.status).toBe("offline");
    // b2 is served by host2 (offline): "any free board" lands on b1 even for two bookings in a row.
    const one = await api("POST", "/api/v1/reservations", { pool: "boards", start: inMinutes(200), duration: 60 });
    expect(one.body.reservation.resource).toBe("b1");
    const two = await api("POST", "/api/v1/reservations", { pool: "boards", start: inMinutes(200), duration: 60 });
    expect(two.status).toBe(409);
    // Booking b2 by name still works: only "any free one" skips offline agents.
    expect((await api("POST", "/api/v1/reservations", { resource: "b2", start: inMinutes(200), duration: 60 })).status).toBe(201);
    await publish(`${PREFIX}/agents/host2/status`, "");
  });
});

describe("broker failures", () => {
  it("the Broker reconnects after the broker restarts, and the schedule gets out", async () => {
    // Its own broker, so restarting it can't disturb other test files.
    const { labYaml, testEnv: te } = await import("./helpers.ts");
    ({ publicJwk } = await configure({ LAB_CONFIG: labYaml({ site: SITE }).replace(te.TEST_MQTT_WS_URL!, inject("mqttFaultWsUrl")) }));
    const before = await api("POST", "/api/v1/reservations", { resource: "host2", start: inMinutes(500), duration: 60 });
    expect(before.status).toBe(201);
    const topic = `${PREFIX}/resources/host2/schedule`;
    await retainedMatching(topic, async (p) => (await verify(p, "host2")).entries.some((e) => before.body.reservation.id.endsWith(e.id)), 10_000, "fault");
    await restartBroker();
    const t0 = Date.now();
    const after = await api("POST", "/api/v1/reservations", { resource: "host2", start: inMinutes(700), duration: 60 });
    expect(after.status).toBe(201);
    expect(Date.now() - t0).toBeLessThan(4000); // publishing never holds up the booking (holding it would wait CONNECT_WAIT_MS, 5 s)
    const m = await retainedMatching(topic, async (p) => (await verify(p, "host2")).entries.some((e) => after.body.reservation.id.endsWith(e.id)), 20_000, "fault");
    expect((await verify(m.payload, "host2")).entries).toHaveLength(2);
  }, 40_000);
});
