import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ValidationError } from "../../calendar/errors.ts";
import { generateSigningKey, signSchedule, verifySchedule, ScheduleRejectedError, type Schedule } from "../../calendar/schedule/schedule.ts";
import { StateStore } from "../../edge-agent/agent/state.ts";
import { parseAgentConfig } from "../../edge-agent/config/agent-config.ts";
import { createPowerDriver, type PowerConfigInput } from "../../edge-agent/drivers/power/index.ts";
import { powerConfigSchema } from "../../edge-agent/drivers/power/config.ts";
import { planSteps } from "../../edge-agent/drivers/power/sequence.ts";
import { tempDir } from "../services/process.ts";
import { entry, testContext } from "./drivers/helpers.ts";

/**
 * The agent's side of ids named like Object.prototype members: agent.yaml
 * (resource ids, trusted key ids, power devices and modes), its state file,
 * and the key id of every schedule that arrives over MQTT.
 */
const PROTO_NAMES = [...new Set([...Object.getOwnPropertyNames(Object.prototype), "__proto__"])];
// Typed as plain strings: TypeScript would give `x.constructor` the type of Object's.
const CONSTRUCTOR: string = "constructor";
const TO_STRING: string = "toString";

let dir: string;
beforeAll(async () => {
  dir = await tempDir("proto-ids");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const agentYaml = (trustedKeys: string) => `
agent: a1
site: lab
broker: { url: "mqtt://127.0.0.1:1883" }
trustedKeys:
${trustedKeys}
resources:
  - id: constructor
  - id: toString
`;

describe("agent.yaml", () => {
  it("resource and trusted key ids named like Object.prototype members are ordinary ids", async () => {
    const { publicJwk } = await generateSigningKey("constructor");
    const cfg = await parseAgentConfig(parseYaml(agentYaml(`  constructor: ${JSON.stringify(publicJwk)}`)), "/etc/labhog/agent.yaml");
    expect(cfg.resources.map((r) => r.id)).toEqual(["constructor", "toString"]);
    expect(Object.keys(cfg.trustedKeys)).toEqual(["constructor"]);
    expect(cfg.trustedKeys[CONSTRUCTOR]).toMatchObject({ kty: "OKP", x: publicJwk.x });
    for (const n of PROTO_NAMES.filter((x) => x !== "constructor")) expect(cfg.trustedKeys[n], n).toBeUndefined();
  });

  it("a `__proto__` key is refused with a clear message, not dropped", async () => {
    const { publicJwk } = await generateSigningKey("k1");
    const doc = parseYaml(agentYaml(`  k1: ${JSON.stringify(publicJwk)}\n  __proto__: ${JSON.stringify(publicJwk)}`));
    await expect(parseAgentConfig(doc, "/etc/labhog/agent.yaml")).rejects.toThrow(ValidationError);
    await expect(parseAgentConfig(doc, "/etc/labhog/agent.yaml")).rejects.toThrow('/etc/labhog/agent.yaml: trustedKeys.__proto__: "__proto__" is not allowed as a name');
  });
});

describe("schedules", () => {
  const schedule = (): Schedule => {
    const now = Date.now();
    return { v: 1, resource: "constructor", seq: 5, issuedAt: new Date(now).toISOString(), validUntil: new Date(now + 3_600_000).toISOString(), entries: [] };
  };

  it("a key id named like an Object.prototype member is unknown unless agent.yaml trusts it", async () => {
    const trusted = await generateSigningKey("k1");
    const cfg = await parseAgentConfig(parseYaml(agentYaml(`  k1: ${JSON.stringify(trusted.publicJwk)}`)), "/etc/labhog/agent.yaml");
    for (const kid of PROTO_NAMES) {
      const k = await generateSigningKey(kid);
      const jws = await signSchedule(schedule(), { kid, jwk: k.privateJwk });
      const err = await verifySchedule(jws, { keys: cfg.trustedKeys, resources: ["constructor"] }).catch((e: unknown) => e);
      expect(err, kid).toBeInstanceOf(ScheduleRejectedError);
      expect((err as ScheduleRejectedError).reason, kid).toBe("unknown-key");
    }
  });

  it("a key trusted under such a name verifies, and a resource so named keeps its own seq", async () => {
    const k = await generateSigningKey("toString");
    const cfg = await parseAgentConfig(parseYaml(agentYaml(`  toString: ${JSON.stringify(k.publicJwk)}`)), "/etc/labhog/agent.yaml");
    const jws = await signSchedule(schedule(), { kid: "toString", jwk: k.privateJwk });
    const store = new StateStore(dir);
    const state = await store.load("a1");
    expect((await verifySchedule(jws, { keys: cfg.trustedKeys, resources: ["constructor"], lastSeq: (r) => state.resources[r]?.lastSeq })).seq).toBe(5);
    state.resources[CONSTRUCTOR] = { lastSeq: 5, active: null, drivers: {} };
    const replay = await verifySchedule(jws, { keys: cfg.trustedKeys, resources: ["constructor"], lastSeq: (r) => state.resources[r]?.lastSeq }).catch((e: unknown) => e);
    expect((replay as ScheduleRejectedError).reason).toBe("replayed");
  });
});

describe("the agent's state file", () => {
  it("resources named like Object.prototype members are found only when stored", async () => {
    const store = new StateStore(dir);
    await writeFile(join(dir, "state.json"), JSON.stringify({ v: 1, agent: "a1", savedAt: new Date().toISOString(), resources: { constructor: { lastSeq: 7, active: "r1", drivers: {} } } }));
    const state = await store.load("a1");
    expect(state.resources[CONSTRUCTOR]).toEqual({ lastSeq: 7, active: "r1", drivers: {} });
    for (const n of PROTO_NAMES.filter((x) => x !== "constructor")) expect(state.resources[n], n).toBeUndefined();
    // What agent.ts does for each configured resource: a missing one gets fresh state of its own.
    const st = (state.resources[TO_STRING] ??= { active: null, drivers: {} });
    expect(st).toEqual({ active: null, drivers: {} });
    expect(Object.hasOwn(state.resources, "toString")).toBe(true);
    await store.save(state);
    const again = await new StateStore(dir).load("a1");
    expect(Object.keys(again.resources)).toEqual(["constructor", "toString"]);
  });

  it("a fresh state has no inherited resources", async () => {
    const state = await new StateStore(join(dir, "nothing-here")).load("a1");
    for (const n of PROTO_NAMES) expect(state.resources[n], n).toBeUndefined();
  });
});

describe("power modes", () => {
  const cfg = (): PowerConfigInput => ({
    actuators: { cmd: { type: "command" } },
    devices: {
      board: {
        modes: {
          off: { steps: [{ actuator: "cmd", parameters: { argv: ["/bin/true"] } }] },
          on: { depends: "off", steps: [{ actuator: "cmd", parameters: { argv: ["/bin/true"] } }] },
        },
      },
    },
  });

  it("a reservation's mode named like an Object.prototype member is no mode of any device", async () => {
    const parsed = powerConfigSchema.parse(cfg());
    expect(planSteps(parsed, "board", "on").map((s) => s.mode)).toEqual(["off", "on"]);
    for (const mode of PROTO_NAMES) expect(planSteps(parsed, "board", mode), mode).toEqual([]);
    for (const mode of ["constructor", "valueof", "tostring"]) {
      const { ctx, deps, events } = testContext();
      const drv = createPowerDriver(cfg(), deps);
      await drv.apply(entry({ mode }), ctx);
      expect(events.map((e) => [e.ok, e.message]), mode).toEqual([[false, `no device has mode "${mode}"; nothing switched`]]);
    }
  });

  it("config refers to actuators and modes the file defines, not Object.prototype's", () => {
    const bad = cfg();
    bad.devices.board!.modes.on = { depends: "constructor", steps: [{ actuator: "toString", parameters: {} }] };
    const r = powerConfigSchema.safeParse(bad);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.message)).toEqual(expect.arrayContaining(['mode "on" of device "board" depends on "constructor", which the device does not have', 'no actuator named "toString"']));
  });
});
