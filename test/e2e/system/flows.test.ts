import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN } from "../../cli/cli-lab.ts";
import { requireUnshareMount } from "./ns-host-client.ts";
import { calendarObjects, heldBy, putAppEvent, shell, startSystemLab, TOKENS, type SystemLab } from "./system-lab.ts";

/**
 * The whole system end to end: the Worker in workerd, Mosquitto, Radicale,
 * and the real agent enforcing host1 on a real sshd in a private mount
 * namespace. "alice can't" means her ssh login gets no shell but exactly
 * the hog's message (`labhog status`).
 */
let lab: SystemLab;
beforeAll(async () => {
  requireUnshareMount();
  lab = await startSystemLab();
}, 180_000);
afterAll(async () => {
  await lab?.stop();
});

const activeOn = async (who: string) => {
  const r = await lab.api("GET", "/api/v1/reservations?resource=host1");
  return (r.body.reservations as any[]).filter((x) => x.state === "active" && x.holder.id === who);
};

describe("end to end: booking → the agent hogs the host", () => {
  it("(1) book over HTTP → bob can log in, alice can't; release → alice can", async () => {
    expect(shell(await lab.login("alice"))).toBe(true);
    const t0 = Date.now();
    const booked = await lab.api("POST", "/api/v1/reservations", { resource: "host1", duration: 600, purpose: "e2e flow 1" }, "bob");
    expect(booked.status, JSON.stringify(booked.body)).toBe(201);
    await lab.until("alice locked out", async () => heldBy("bob", await lab.login("alice")));
    const hogMs = Date.now() - t0;
    const alice = await lab.login("alice");
    expect(alice.out).toMatch(/host1 is held by bob .* until/);
    expect(shell(await lab.login("bob"))).toBe(true);
    expect(await lab.ns.call("mounts", { user: "alice" })).toBe(1);
    expect(await lab.ns.call("mounts", { user: "bob" })).toBe(0);

    const rel = await lab.api("POST", `/api/v1/reservations/${encodeURIComponent(booked.body.reservation.id)}/release`, undefined, "bob");
    expect(rel.status).toBe(200);
    await lab.until("alice back", async () => shell(await lab.login("alice")));
    expect(await lab.ns.call("mounts", { user: "alice" })).toBe(0);
    console.log(JSON.stringify({ flow: 1, bookingToHogMs: hogMs }));
  }, 120_000);

  it("(2) an event a calendar app PUTs into Radicale is enforced at the next sync, then carries the live usage line", async () => {
    const uid = `thunderbird-${Date.now()}@example.com`;
    const t0 = Date.now();
    // Starts now, not earlier: flow 1's released reservation ended a moment ago, and an overlap would be a (correct) conflict.
    await putAppEvent(lab.calendar, uid, { start: new Date(t0), end: new Date(t0 + 10 * 60_000), summary: "bob: debugging", organizer: "bob@example.com" });
    // policy.syncInterval is 5 s: enforced within a few intervals (how fast is measured by `npm run bench system`, not asserted here).
    const ms = await lab.until("calendar event enforced", async () => heldBy("bob", await lab.login("alice")), 30_000);
    expect(shell(await lab.login("bob"))).toBe(true);
    console.log(JSON.stringify({ flow: 2, calendarEditToEnforcedMs: ms }));

    // bob works in a terminal: the agent's usage reaches the Worker, which writes the live line into his event.
    expect((await lab.ns.call("holdSession", { user: "bob", seconds: 60 })).ready).toBe(true);
    let ics = "";
    await lab.until("live usage line in the event", async () => {
      ics = (await calendarObjects(lab.calendar)).find((o) => o.ics.includes(`UID:${uid}`))?.ics ?? "";
      return /X-LABHOG-USAGE/.test(ics);
    }, 60_000);
    expect(ics).toMatch(/X-LABHOG-USAGE[^:]*:.*bob/);

    // Cancel it as the app would (delete the event); the host is free again after the next sync.
    const auth = "Basic " + Buffer.from(`${lab.calendar.username}:${lab.calendar.password}`).toString("base64");
    expect((await fetch(`${lab.calendar.collection}${encodeURIComponent(uid)}.ics`, { method: "DELETE", headers: { authorization: auth } })).status).toBeLessThan(300);
    await lab.until("alice back after the app deleted the event", async () => shell(await lab.login("alice")), 30_000);
  }, 180_000);

  it("(3) `labhog lease -- sleep 30` killed with SIGKILL: the reservation ends within the lease TTL and the host is released", async () => {
    const ttl = 10;
    const child = spawn(process.execPath, [BIN, "lease", "host1", "--ttl", `${ttl}s`, "--", "sleep", "30"], {
      env: { PATH: process.env.PATH, HOME: "/nonexistent", LABHOG_URL: lab.worker.url, LABHOG_TOKEN: TOKENS.bob },
      stdio: "ignore",
      detached: true, // its own process group: the kill below takes labhog and its command, like a cancelled CI job
    });
    await lab.until("bob's lease active", async () => (await activeOn("bob")).length === 1, 30_000);
    const [held] = await activeOn("bob");
    expect(held.leaseTtl).toBe(ttl);
    await lab.until("alice locked out by the lease", async () => heldBy("bob", await lab.login("alice")), 20_000);

    const killedAt = Date.now();
    process.kill(-child.pid!, "SIGKILL");
    const endedMs = await lab.until("lease ended by the Worker", async () => {
      const r = await lab.api("GET", `/api/v1/reservations/${encodeURIComponent(held.id)}`);
      return r.status === 404 || r.body.state !== "active";
    }, (ttl + 20) * 1000);
    await lab.until("alice back after the lease", async () => shell(await lab.login("alice")), 20_000);
    const freeMs = Date.now() - killedAt;
    console.log(JSON.stringify({ flow: 3, ttlS: ttl, killToEndedMs: endedMs, killToHostFreeMs: freeMs }));
    // The last keep-alive came before the kill, so the lease runs out at most ttl after it; the slack is the ledger's
    // alarm and the API polls on a loaded machine (10.5 s is usual here). Without the lease it would end with `sleep 30`.
    expect(endedMs).toBeLessThan(ttl * 1000 + 8_000);
  }, 120_000);
});
