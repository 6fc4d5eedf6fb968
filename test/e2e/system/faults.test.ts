import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireUnshareMount } from "./ns-host-client.ts";
import { calendarObjects, heldBy, passwordRefusedByHog, putAppEvent, shell, startSystemLab, type SystemLab } from "./system-lab.ts";

/**
 * Faults with everything real: the broker restarted mid-reservation, the
 * calendar server down, the agent killed with SIGKILL and restarted. Nothing
 * is lost and nobody stays locked out.
 */
let lab: SystemLab;
beforeAll(async () => {
  requireUnshareMount();
  lab = await startSystemLab();
}, 180_000);
afterAll(async () => {
  await lab?.stop();
});

const book = async (who: "alice" | "bob", seconds = 600) => {
  const r = await lab.api("POST", "/api/v1/reservations", { resource: "host1", duration: seconds, purpose: "fault test" }, who);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.reservation as { id: string; uid: string };
};
const release = async (id: string, who: "alice" | "bob" = "bob") => {
  const r = await lab.api("POST", `/api/v1/reservations/${encodeURIComponent(id)}/release`, undefined, who);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
};
/**
 * Locked out for the reasons the hog sets, never "some ssh failure": her key
 * only shows bob's hold, and sshd offers her public keys only (no password).
 */
const aliceLocked = async () => heldBy("bob", await lab.login("alice")) && passwordRefusedByHog("alice", await lab.passwordLogin("alice"));
/** In with her key and with her password. */
const aliceFree = async () => shell(await lab.login("alice")) && shell(await lab.passwordLogin("alice"));

describe("end to end: faults", () => {
  it("broker restarted mid-reservation: the agent keeps enforcing, then resumes and takes the release", async () => {
    const r = await book("bob");
    await lab.until("alice locked out", aliceLocked);
    await lab.mosquitto.restart();
    // Right after the restart, before anyone reconnects: the agent enforces by its own state and clock.
    expect(await aliceLocked()).toBe(true);
    expect(shell(await lab.login("bob"))).toBe(true);
    await release(r.id);
    // The Worker's broker connection and the agent both reconnect; the release reaches the host.
    const ms = await lab.until("alice back after the broker restart", aliceFree, 60_000);
    console.log(JSON.stringify({ fault: "broker-restart", releaseToFreeMs: ms }));
    const res = await lab.api("GET", "/api/v1/resources/host1");
    expect(res.body.agent.status).toBe("online");
  }, 120_000);

  it("calendar server down: 503 problem JSON with Retry-After, no half-written booking; sync catches up after", async () => {
    await lab.calendar.down();
    try {
      const r = await lab.api("POST", "/api/v1/reservations", { resource: "host1", duration: 600, purpose: "while down" }, "bob");
      expect(r.status).toBe(503);
      expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(r.body).toMatchObject({ status: 503 });
      expect(typeof r.body.title).toBe("string");
    } finally {
      await lab.calendar.up();
    }
    // Nothing half-written: neither in the calendar nor in the API.
    expect((await calendarObjects(lab.calendar)).filter((o) => o.ics.includes("while down"))).toEqual([]);
    const listed = await lab.api("GET", "/api/v1/reservations?resource=host1");
    expect((listed.body.reservations as any[]).filter((x) => x.purpose?.includes("while down"))).toEqual([]);
    expect(await aliceFree()).toBe(true);

    // Back up: an event written by a calendar app is picked up by the next sync and enforced.
    const uid = `after-outage-${Date.now()}@example.com`;
    await putAppEvent(lab.calendar, uid, { start: new Date(), end: new Date(Date.now() + 5 * 60_000), summary: "bob: after the outage", organizer: "bob@example.com" });
    const ms = await lab.until("app event enforced after the outage", aliceLocked, 30_000);
    console.log(JSON.stringify({ fault: "calendar-down", appEventEnforcedAfterMs: ms }));
    const auth = "Basic " + Buffer.from(`${lab.calendar.username}:${lab.calendar.password}`).toString("base64");
    await fetch(`${lab.calendar.collection}${encodeURIComponent(uid)}.ics`, { method: "DELETE", headers: { authorization: auth } });
    await lab.until("alice back", aliceFree, 30_000);
  }, 150_000);

  it("agent killed (SIGKILL) and restarted: the lock survives the crash without stacking, and a release made meanwhile is applied on restart", async () => {
    const r = await book("bob");
    await lab.until("alice locked out", aliceLocked);
    await lab.ns.call("killAgent");
    expect(await aliceLocked()).toBe(true); // the sshd rule and bind mount outlive the process: no gap in enforcement
    await lab.ns.call("startAgent");
    await new Promise((res) => setTimeout(res, 3000));
    expect(await aliceLocked()).toBe(true);
    expect(await lab.ns.call("mounts", { user: "alice" })).toBe(1);

    await lab.ns.call("killAgent");
    await release(r.id);
    await new Promise((res) => setTimeout(res, 2000));
    expect(await aliceLocked()).toBe(true); // nobody there to undo it yet
    const t0 = Date.now();
    await lab.ns.call("startAgent");
    await lab.until("restarted agent applies the release", aliceFree, 30_000);
    expect(await lab.ns.call("mounts", { user: "alice" })).toBe(0);
    console.log(JSON.stringify({ fault: "agent-kill", restartToFreeMs: Date.now() - t0 }));
  }, 120_000);
});
