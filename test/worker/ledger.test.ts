import { createExecutionContext, createScheduledController, env, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";
import type { Env } from "../../worker/env.ts";
import { api, configure, enc, inMinutes } from "./helpers.ts";

const E = env as unknown as Env;

beforeAll(async () => {
  await configure({}, { mqtt: false });
});

describe("the ledger serializes writes", () => {
  it("50 concurrent creates for one slot: one 201, 49 × 409, one event in the calendar", async () => {
    const start = inMinutes(24 * 60);
    const end = inMinutes(25 * 60);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => api("POST", "/api/v1/reservations", { resource: "host1", start, end, purpose: `race ${i}` }, i % 2 ? "bob" : "alice")));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    const winner = answers.find((a) => a.status === 201)!.body.reservation.id;
    for (const a of answers.filter((x) => x.status === 409)) expect(a.body.conflicts.map((c: any) => c.id)).toContain(winner);
    // What is in the calendar itself (the memory backend in the ledger's storage), not the cache.
    const stub = E.LEDGER.get(E.LEDGER.idFromName("host1"));
    const objects = await runInDurableObject(stub, async (_i, state) => [...(await state.storage.list({ prefix: "cal/obj/" })).values()]);
    expect(objects.filter((o: any) => o.ics.includes("race "))).toHaveLength(1);
  });
});

describe("leases", () => {
  it("a lease ends by itself within its TTL once keep-alives stop", async () => {
    const c = await api("POST", "/api/v1/reservations", { resource: "host2", duration: "2h", lease: { ttl: 10 }, purpose: "ci job" });
    expect(c.status).toBe(201);
    const id = c.body.reservation.id;
    expect(c.body.reservation.leaseTtl).toBe(10);
    // Keep-alives hold it past its first TTL...
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 4000));
      const k = await api("POST", `/api/v1/reservations/${enc(id)}/keepalive`);
      expect(k.status).toBe(200);
      expect(Date.parse(k.body.expiresAt)).toBeGreaterThan(Date.now() + 8000);
    }
    expect((await api("GET", `/api/v1/reservations/${enc(id)}`)).body.state).toBe("active");
    // ...then the keep-alives stop (the CI job was killed): the ledger's alarm ends it.
    const stopped = Date.now();
    let state = "active";
    while (state === "active" && Date.now() - stopped < 25_000) {
      await new Promise((r) => setTimeout(r, 500));
      const g = await api("GET", `/api/v1/reservations/${enc(id)}`);
      state = g.status === 200 ? g.body.state : "gone";
    }
    expect(state).toBe("ended");
    // The TTL (10 s) from the last keep-alive, plus the alarm and this poll on a loaded machine; far short of the 2 h.
    expect(Date.now() - stopped).toBeLessThan(18_000);
    expect((await api("GET", "/api/v1/resources/host2")).body.current).toEqual([]);
    // keep-alives on a non-lease are refused
    const plain = await api("POST", "/api/v1/reservations", { resource: "host2", start: inMinutes(600), duration: 60 });
    expect((await api("POST", `/api/v1/reservations/${enc(plain.body.reservation.id)}/keepalive`)).status).toBe(400);
  }, 60_000);
});

describe("wait", () => {
  it("a waiting create is granted when the holder releases", async () => {
    const held = await api("POST", "/api/v1/reservations", { resource: "usb1", duration: "1h" }, "bob");
    expect(held.status).toBe(201);
    const t0 = Date.now();
    const waiting = api("POST", "/api/v1/reservations", { resource: "usb1", duration: "30m", wait: 30 });
    await new Promise((r) => setTimeout(r, 3000)); // the waiting request has long arrived, even on a loaded machine
    expect((await api("POST", `/api/v1/reservations/${enc(held.body.reservation.id)}/release`, undefined, "bob")).status).toBe(200);
    const got = await waiting;
    expect(got.status).toBe(201);
    expect(got.body.waited).toBeGreaterThanOrEqual(1);
    expect(Date.parse(got.body.grantedAt)).toBeGreaterThanOrEqual(t0 + 2900);
    expect(Date.now() - t0).toBeLessThan(12_000);
    // bounded: a wait that runs out answers 409 with the conflict
    const t1 = Date.now();
    const timedOut = await api("POST", "/api/v1/reservations", { resource: "usb1", duration: "30m", wait: 2 }, "bob");
    expect(timedOut.status).toBe(409);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(1900);
  });
  it("waits for any pool member", async () => {
    const a = await api("POST", "/api/v1/reservations", { resource: "b1", duration: "1h" });
    const b = await api("POST", "/api/v1/reservations", { resource: "b2", duration: "1h" });
    expect([a.status, b.status]).toEqual([201, 201]);
    const waiting = api("POST", "/api/v1/reservations", { pool: "boards", duration: "10m", wait: 20 }, "bob");
    await new Promise((r) => setTimeout(r, 1000));
    await api("POST", `/api/v1/reservations/${enc(b.body.reservation.id)}/release`);
    const got = await waiting;
    expect(got.status).toBe(201);
    expect(got.body.reservation.resource).toBe("b2");
  });
});

describe("auth off (the embedded default)", () => {
  it("answers without credentials, as the default user, admin everywhere", async () => {
    await configure({ AUTH: "off" }, { mqtt: false });
    try {
      const r = await api("POST", "/api/v1/reservations", { resource: "secret", start: inMinutes(3000), duration: 60 }, null);
      expect(r.status).toBe(201);
      expect(r.body.reservation.holder.id).toBe("alice");
      const forBob = await api("POST", "/api/v1/reservations", { resource: "secret", start: inMinutes(3100), duration: 60, holder: "bob" }, null);
      expect(forBob.body.reservation.holder.id).toBe("bob");
      expect((await api("GET", "/api/v1/resources", undefined, null)).status).toBe(200);
      expect((await api("POST", "/api/v1/reservations", { resource: "secret", nope: 1 }, null)).status).toBe(400);
    } finally {
      await configure({}, { mqtt: false });
    }
  });
});

describe("cron", () => {
  it("re-arms every ledger's alarm", async () => {
    const stub = E.LEDGER.get(E.LEDGER.idFromName("lone"));
    await api("GET", "/api/v1/resources/lone");
    await runInDurableObject(stub, (_i, state) => state.storage.deleteAlarm());
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).toBeNull();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(), cron: "* * * * *" }), E, ctx);
    await waitOnExecutionContext(ctx);
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm! - Date.now()).toBeLessThanOrEqual(16_000);
  });
});

describe("seams the status page, feeds, push and usage mirroring use", () => {
  it("patchEvent writes usage into the event; syncNow and calendarObjects answer", async () => {
    const c = await api("POST", "/api/v1/reservations", { resource: "host1", start: inMinutes(4000), duration: 60, purpose: "usage seam" });
    const stub = E.LEDGER.get(E.LEDGER.idFromName("host1"));
    const id = c.body.reservation.id.slice("host1:".length);
    const patched = (await stub.patchEvent("host1", id, { usage: { sessions: [{ user: "alice" }] }, liveLine: "Live: alice logged in" })) as any;
    expect(patched.ok).toBe(true);
    expect(patched.value.usage).toEqual({ sessions: [{ user: "alice" }] });
    expect(((await stub.syncNow("host1")) as any).ok).toBe(true);
    const objs = (await stub.calendarObjects("host1")) as any;
    expect(objs.value.find((o: any) => o.ics.includes("usage seam")).ics).toMatch(/Live: alice logged in/);
  });
});
