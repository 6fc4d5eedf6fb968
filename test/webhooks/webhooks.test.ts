import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookConfigSchema, type WebhookConfig } from "../../calendar/config/webhooks.ts";
import { deliver } from "../../worker/webhooks/deliver.ts";
import { afterAttempt, due, enqueue, nextOutboxAlarm, RETRY_SCHEDULE_MS, type OutboxEntry } from "../../worker/webhooks/outbox.ts";
import { signWebhook } from "../../worker/webhooks/sign.ts";
import type { WebhookBody } from "../../worker/webhooks/events.ts";
import { newSecret, startReceiver, type Receiver } from "./receiver.ts";

/**
 * Outgoing webhooks: signatures checked by the Standard Webhooks reference
 * library in a real HTTP receiver on loopback, and the outbox's retry rules.
 * (The ledger wiring is tested in workerd: test/worker/webhooks.test.ts.)
 */
const body = (type: WebhookBody["type"], resource = "host1"): WebhookBody => ({
  type,
  timestamp: "2026-11-30T12:00:00.000Z",
  site: "lab",
  data: { resource, reservation: { id: `${resource}:labhog-1`, resource, holder: { id: "bob", raw: "mailto:bob@example.com" }, start: "2026-11-30T12:00:00.000Z", end: "2026-11-30T13:00:00.000Z", exclusive: true, purpose: "bisect", state: "upcoming", source: "api" } },
});
let ids = 0;
const newId = () => `msg_test${++ids}`;

describe("Standard Webhooks signatures", () => {
  let secret: string;
  let rx: Receiver;
  beforeAll(async () => {
    secret = newSecret();
    rx = await startReceiver(secret);
  });
  afterAll(() => rx.stop());

  it("a delivery verifies with the reference library; a tampered body, a wrong secret and an old timestamp do not", async () => {
    const w = webhookConfigSchema.parse({ url: rx.url, secretSecret: "HOOK" });
    const [e] = enqueue(new Map([["chat", w]]), body("reservation.created"), undefined, Date.now(), newId);
    expect(await deliver(e!, w, secret, Date.now())).toEqual({ status: 204 });
    const [first] = await rx.waitFor(1);
    expect(first).toMatchObject({ id: e!.id, verified: true, body: { type: "reservation.created", data: { resource: "host1" } } });

    const tampered = { ...e!, body: e!.body.replace("bisect", "BISECT") };
    const headers = { id: e!.id, ts: Math.floor(Date.now() / 1000) };
    const sig = await signWebhook(secret, headers.id, headers.ts, e!.body);
    await fetch(rx.url, { method: "POST", body: tampered.body, headers: { "webhook-id": headers.id, "webhook-timestamp": String(headers.ts), "webhook-signature": sig } });
    await deliver({ ...e!, id: "msg_wrongkey" }, w, newSecret(), Date.now());
    await deliver({ ...e!, id: "msg_old" }, w, secret, Date.now() - 3600_000);
    const all = await rx.waitFor(4);
    expect(all.slice(1).map((r) => r.verified)).toEqual([false, false, false]);
  });

  it("the secret must be whsec_<base64> of at least 24 bytes; a missing secret is a failed attempt, not a crash", async () => {
    await expect(signWebhook("whsec_c2hvcnQ=", "a", 1, "{}")).rejects.toThrow(/shorter than 24 bytes/);
    const w = webhookConfigSchema.parse({ url: rx.url, secretSecret: "HOOK" });
    expect(await deliver({ id: "m", webhook: "w", type: "reservation.created", body: "{}", attempts: 0, nextAt: 0 }, w, undefined, Date.now())).toEqual({ error: "the Worker secret HOOK is not set" });
  });
});

describe("webhook config", () => {
  it("https, or http to loopback only; event names checked", () => {
    expect(webhookConfigSchema.safeParse({ url: "http://hooks.example/x", secretSecret: "HOOK" }).success).toBe(false);
    expect(webhookConfigSchema.safeParse({ url: "https://hooks.example/x", secretSecret: "HOOK" }).success).toBe(true);
    expect(webhookConfigSchema.safeParse({ url: "https://hooks.example/x", secretSecret: "HOOK", events: ["reservation.exploded"] }).success).toBe(false);
  });

  it("events and resource/pool filters decide who gets what", () => {
    const hooks = new Map<string, WebhookConfig>([
      ["all", webhookConfigSchema.parse({ url: "https://a.example/", secretSecret: "A" })],
      ["conflicts", webhookConfigSchema.parse({ url: "https://b.example/", secretSecret: "B", events: ["reservation.conflict"] })],
      ["boards", webhookConfigSchema.parse({ url: "https://c.example/", secretSecret: "C", pools: ["rk3588"] })],
    ]);
    expect(enqueue(hooks, body("reservation.created", "host1"), undefined, 0, newId).map((e) => e.webhook)).toEqual(["all"]);
    expect(enqueue(hooks, body("reservation.conflict", "rock5b-1"), "rk3588", 0, newId).map((e) => e.webhook)).toEqual(["all", "conflicts", "boards"]);
  });
});

describe("the outbox's retries", () => {
  const entry = (): OutboxEntry => ({ id: "msg_1", webhook: "w", type: "reservation.created", body: "{}", attempts: 0, nextAt: 1000 });

  it("2xx is delivered; 410 gives up at once; anything else waits by the schedule, keeping its id", () => {
    expect(afterAttempt(entry(), { status: 200 }, 1000)).toEqual({ done: true, delivered: true, reason: "HTTP 200" });
    expect(afterAttempt(entry(), { status: 410 }, 1000)).toMatchObject({ done: true, delivered: false });
    const r = afterAttempt(entry(), { status: 503 }, 1000);
    expect(r).toEqual({ done: false, entry: { ...entry(), attempts: 1, nextAt: 1000 + RETRY_SCHEDULE_MS[1], lastError: "HTTP 503" } });
  });

  it("gives up after the last step of the schedule", () => {
    let e = entry();
    let now = 0;
    for (let i = 1; i < RETRY_SCHEDULE_MS.length; i++) {
      const r = afterAttempt(e, { error: "connection refused" }, now);
      if (r.done) throw new Error(`done too early at ${i}`);
      e = r.entry;
      now = e.nextAt;
    }
    expect(afterAttempt(e, { error: "connection refused" }, now)).toEqual({ done: true, delivered: false, reason: `gave up after ${RETRY_SCHEDULE_MS.length} attempts: connection refused` });
  });

  it("due entries and the next alarm", () => {
    const a = { ...entry(), id: "a", nextAt: 10 };
    const b = { ...entry(), id: "b", nextAt: 50 };
    expect(due([a, b], 20).map((e) => e.id)).toEqual(["a"]);
    expect(nextOutboxAlarm([b, a])).toBe(10);
    expect(nextOutboxAlarm([])).toBeUndefined();
  });

  it("a receiver that fails twice gets the same webhook-id three times and verifies each time", async () => {
    const secret = newSecret();
    const rx = await startReceiver(secret);
    try {
      await rx.script([500, 502]);
      const w = webhookConfigSchema.parse({ url: rx.url, secretSecret: "HOOK" });
      let [e] = enqueue(new Map([["w", w]]), body("reservation.ended"), undefined, 0, newId) as [OutboxEntry];
      let outcome;
      for (let i = 0; i < 3; i++) {
        outcome = afterAttempt(e, await deliver(e, w, secret, Date.now()), Date.now());
        if (outcome.done) break;
        e = outcome.entry;
      }
      expect(outcome).toMatchObject({ done: true, delivered: true });
      expect((await rx.received()).map((r) => [r.id, r.verified])).toEqual([[e.id, true], [e.id, true], [e.id, true]]);
    } finally {
      await rx.stop();
    }
  });
});

describe("which reservation events happened (transitions, pure)", async () => {
  const { transitions } = await import("../../worker/webhooks/transitions.ts");
  const r = (id: string, state: string, extra: Record<string, unknown> = {}) =>
    ({ id, uid: id, resource: "host1", holder: { id: "bob", raw: "bob" }, start: "2030-01-01T10:00:00.000Z", end: "2030-01-01T11:00:00.000Z", exclusive: true, purpose: "", source: "api", state, ...extra }) as any;
  const types = (told: Map<string, any>, now: any[]) => transitions(told, now).events.map((e) => `${e.type} ${e.reservation.id}`);

  it("new, moved, started, lost a conflict, ended, gone", () => {
    const t0 = transitions(new Map(), [r("a", "upcoming"), r("b", "upcoming"), r("old", "ended")]);
    expect(t0.events.map((e) => e.type)).toEqual(["reservation.created", "reservation.created"]);
    expect(types(t0.next, [r("a", "upcoming", { end: "2030-01-01T12:00:00.000Z" }), r("b", "active"), r("old", "ended")])).toEqual(["reservation.changed a", "reservation.started b"]);
    expect(types(t0.next, [r("a", "conflict", { conflictWith: ["x"] }), r("old", "ended")])).toEqual(["reservation.conflict a", "reservation.ended b"]);
    expect(types(t0.next, [r("a", "ended", { end: "2030-01-01T10:30:00.000Z" }), r("b", "upcoming"), r("old", "ended")])).toEqual(["reservation.ended a"]);
  });

  it("nothing changed: nothing to tell; an ended reservation is told once", () => {
    const t0 = transitions(new Map(), [r("a", "ended")]);
    expect(t0.events).toEqual([]);
    const t1 = transitions(new Map(), [r("a", "active")]);
    const t2 = transitions(t1.next, [r("a", "ended")]);
    expect(t2.events.map((e) => e.type)).toEqual(["reservation.ended"]);
    expect(transitions(t2.next, [r("a", "ended")]).events).toEqual([]);
    expect(transitions(t2.next, []).events).toEqual([]);
  });
});
