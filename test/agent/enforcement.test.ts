import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { Agent, type TimedEvent } from "../../edge-agent/agent/agent.ts";
import { loadDriverModules, schemasOf } from "../../edge-agent/agent/driver-modules.ts";
import { retryDelayMs } from "../../edge-agent/agent/enforcement.ts";
import { loadAgentConfig } from "../../edge-agent/config/agent-config.ts";
import { createLogger } from "../../edge-agent/log.ts";
import { startMosquitto, type MosquittoService } from "../services/mosquitto.ts";
import { tempDir } from "../services/process.ts";
import { agentYaml, entry, listen, schedule, sign, testKey } from "./helpers.ts";

/**
 * The agent tells the truth about enforcement. A real agent, a real
 * Mosquitto and the power driver's real `command` actuator, whose "on" step
 * is `test -e <flag>`: it exits 1 until the test creates the flag. While it
 * fails, every `enforced` event and the retained …/enforcement state say
 * ok:false with the reason, and the agent keeps retrying with backoff; once
 * the fault is gone the next retry says ok:true.
 */
const labhogBin = resolve(fileURLToPath(new URL("../../edge-agent/bin/labhog.mjs", import.meta.url)));
const run = promisify(execFile);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
let cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  cleanup = [];
});

describe("retry backoff", () => {
  it("doubles from 1 s and stops growing at 60 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 100].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  });
});

describe("enforcement truth", () => {
  it("a failing power step: ok:false with the reason and retries with backoff, never ok:true while failing; ok:true once the fault is gone", async () => {
    const broker: MosquittoService = await startMosquitto();
    cleanup.push(() => broker.stop());
    const dir = await tempDir("agent-enforcement");
    const key = await testKey("k");
    const flag = join(dir, "relay-ok");
    const resource = [
      "  - id: board1",
      "    kind: board",
      "    notify: false",
      "    power:",
      "      actuators: { relay: { type: command } }",
      "      devices:",
      "        main:",
      "          modes:",
      `            on: { steps: [ { actuator: relay, parameters: { argv: [test, -e, ${JSON.stringify(flag)}] } } ] }`,
      "            off: { steps: [ { actuator: relay, parameters: { argv: [\"true\"] } } ] }",
    ].join("\n");
    const cfgPath = join(dir, "agent.yaml");
    const stateDir = join(dir, "state");
    await writeFile(cfgPath, agentYaml({ brokerUrl: broker.url, stateDir, publicJwk: key.publicJwk, kid: key.kid, resources: [] }).replace("resources:\n", `resources:\n${resource}\n`));
    const mods = await loadDriverModules();
    const events: TimedEvent[] = [];
    const agent = new Agent({ config: await loadAgentConfig(cfgPath, schemasOf(mods)), modules: mods, log: createLogger({ level: "error" }), onEvent: (e) => events.push(e) });
    const ev = await listen(broker.url, "labhog/lab/agents/host1/events");
    const retained = await listen(broker.url, "labhog/lab/agents/host1/enforcement");
    const pub = await mqtt.connectAsync(broker.url);
    cleanup.push(async () => {
      await Promise.all([ev.client.endAsync(), retained.client.endAsync(), pub.endAsync()]);
      await agent.stop();
    });
    await agent.start();
    // Nothing booked: released, and that worked.
    await ev.waitFor((b) => b.action === "enforced" && b.message === "free" && b.ok === true);

    const b1 = entry({ id: "b1", start: new Date(Date.now() - 1000), end: new Date(Date.now() + 3600_000) });
    await pub.publishAsync("labhog/lab/resources/board1/schedule", await sign(schedule("board1", 1, [b1]), key), { qos: 1, retain: true });
    const reason = `power: main on step 1 (relay): run ${JSON.stringify(["test", "-e", flag])} failed: test -e ${flag} failed (1)`;
    const stopped = "power: main: stopped entering on after step 1/1 failed";
    const held = `held by bob until ${b1.end}`;
    const first = await ev.waitFor((b) => b.action === "enforced" && b.reservation === "b1");
    expect(first).toEqual({
      time: first.time,
      agent: "host1",
      resource: "board1",
      driver: "agent",
      action: "enforced",
      ok: false,
      message: `${held}; not enforced: ${reason}; ${stopped}; retrying in 1 s`,
      holder: "bob",
      reservation: "b1",
      problems: [reason, stopped],
      retryInMs: 1000,
    });
    // Retries, each after twice the wait of the one before.
    await ev.waitFor((b) => b.action === "enforced" && b.retryInMs === 2000);
    await ev.waitFor((b) => b.action === "enforced" && b.retryInMs === 4000, 15_000);
    const stepRuns = () => events.filter((e) => e.driver === "power" && e.ok === false && e.message === reason.slice("power: ".length)).length;
    expect(stepRuns()).toBeGreaterThanOrEqual(3);

    // Retained for the Worker: the same verdict, per resource.
    const state = await retained.waitFor((b) => b.resources?.board1?.failures >= 3);
    expect(state.agent).toBe("host1");
    expect(state.resources.board1).toMatchObject({ ok: false, problems: [reason, stopped], state: "held", holder: "bob", reservation: "b1", end: b1.end });
    // labhog status on the host, from the agent's summary file.
    const failing = await run(process.execPath, [labhogBin, "status", "--file", join(stateDir, "status.json")], { env: { ...process.env, USER: "bob" } });
    expect(failing.stdout).toContain(`board1 is held by bob (bob) until `);
    expect(failing.stdout).toMatch(new RegExp(`\\n  NOT ENFORCED since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC: ${esc(`${reason}; ${stopped}`)} \\(next try \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\)\\n`));

    // A new schedule resets the backoff: tried again at once, the next wait is 1 s again.
    const beforeSeq2 = events.length;
    await pub.publishAsync("labhog/lab/resources/board1/schedule", await sign(schedule("board1", 2, [b1]), key), { qos: 1, retain: true });
    const afterSeq2 = await ev.waitFor((b) => b.action === "enforced" && b.reservation === "b1" && events.slice(beforeSeq2).some((e) => e.action === "schedule-accepted") && Date.parse(b.time) >= Date.parse(events.find((e, i) => i >= beforeSeq2 && e.action === "schedule-accepted")!.time));
    expect(afterSeq2).toMatchObject({ ok: false, retryInMs: 1000, problems: [reason, stopped] });

    // The fault goes away: the next retry succeeds.
    const fixedAt = Date.now();
    await writeFile(flag, "");
    const okEvent = await ev.waitFor((b) => b.action === "enforced" && b.reservation === "b1" && b.ok === true, 15_000);
    expect(okEvent).toMatchObject({ ok: true, message: held, problems: [] });
    expect(okEvent.retryInMs).toBeUndefined();
    // Never ok:true while the step was failing: every enforced event before the fix says ok:false.
    const enforced = events.filter((e) => e.action === "enforced" && e.reservation === "b1");
    const before = enforced.filter((e) => Date.parse(e.time) <= fixedAt);
    expect(before.length).toBeGreaterThanOrEqual(4);
    expect(before.every((e) => e.ok === false && e.problems?.[0] === reason)).toBe(true);
    // ok:true follows an attempt in which the step succeeded.
    const okAt = events.indexOf(enforced.find((e) => e.ok)!);
    const lastStep = events.slice(0, okAt).reverse().find((e) => e.driver === "power");
    expect(lastStep).toMatchObject({ ok: true, message: "main is in mode on" });

    const good = await retained.waitFor((b) => b.resources?.board1?.ok === true && b.resources.board1.reservation === "b1");
    expect(good.resources.board1).toMatchObject({ ok: true, problems: [], failures: 0, state: "held", reservation: "b1" });
    expect(Date.parse(good.resources.board1.since)).toBeGreaterThanOrEqual(fixedAt);
    expect(good.resources.board1.retryAt).toBeUndefined();
    const fine = await run(process.execPath, [labhogBin, "status", "--file", join(stateDir, "status.json")], { env: { ...process.env, USER: "bob" } });
    expect(fine.stdout).toMatch(/\n {2}enforced since \d{4}-\d\d-\d\d \d\d:\d\d UTC\n/);
    expect(fine.stdout).not.toContain("NOT ENFORCED");
  }, 60_000);
});

describe("labhog status --lab", () => {
  it("notes a resource whose booking is not enforced, with the agent's reasons", async () => {
    const { resourceRows } = await import("../../edge-agent/cli/commands/output.ts");
    const base = { name: "b", kind: "board", pool: null, tags: {}, agent: { id: "host1", status: "online" as const, lastSeen: null }, usage: null, current: [], next: null };
    const rows = resourceRows([
      { ...base, id: "b1", conflicts: 1, enforcement: { ok: false, problems: ["power: relay failed", "usb: probe: not plugged in"], since: "2026-11-30T10:00:00Z", at: "2026-11-30T10:00:05Z" } },
      { ...base, id: "b2", conflicts: 0, enforcement: { ok: true, problems: [], since: "2026-11-30T10:00:00Z", at: "2026-11-30T10:00:05Z" } },
      { ...base, id: "b3", conflicts: 0 },
    ]);
    expect(rows.map((r) => r[5])).toEqual(["1 conflict(s); not enforced: power: relay failed; usb: probe: not plugged in", "", ""]);
  });
});

describe("labhog status on the host", () => {
  it("says when the agent has not applied the schedule yet, and prints nothing about enforcement for an older agent's summary", async () => {
    const { formatStatus } = await import("../../edge-agent/cli/status.ts");
    const base = { agent: "host1", site: "lab", updatedAt: "2026-11-26T10:00:00.000Z" };
    const r = { id: "host1", served: true, holder: null, reservation: null, start: null, end: null, exclusive: null, upcoming: [] };
    expect(formatStatus({ ...base, resources: [{ ...r, enforcement: null }] })).toBe("host1 is free (agent host1).\n  enforcement: unknown (the agent has not applied the schedule yet)\n(agent host1, updated 2026-11-26 10:00 UTC)\n");
    expect(formatStatus({ ...base, resources: [r] })).toBe("host1 is free (agent host1).\n(agent host1, updated 2026-11-26 10:00 UTC)\n");
  });
});
