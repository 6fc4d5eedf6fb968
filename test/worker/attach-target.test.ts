import { beforeAll, describe, expect, it } from "vitest";
import { usbTargetOf } from "../../edge-agent/cli/attach.ts";
import { api, configure, labYaml } from "./helpers.ts";

/**
 * What `labhog attach <resource>` asks the API: GET /api/v1/resources/{id}
 * names the agent's host (the lab file's agents.<id>.host); the CLI's own
 * reader (usbTargetOf) reads it from the real Worker's answer. (The device
 * ids come from the agent's usage on MQTT: test/agent/drivers/usb-usbip.test.ts.)
 */
beforeAll(async () => {
  const lab = labYaml({ mqtt: false }).replace("  host1: { tokenSecret: AGENT_HOST1_HASH }", "  host1: { tokenSecret: AGENT_HOST1_HASH, host: build1.lab.example }");
  await configure({ LAB_CONFIG: lab }, { mqtt: false });
});

describe("GET /api/v1/resources/{id} for labhog attach", () => {
  it("shows agent.host from the lab file, null when the lab names none", async () => {
    const b1 = await api("GET", "/api/v1/resources/b1");
    expect(b1.status).toBe(200);
    expect(b1.body.agent).toMatchObject({ id: "host1", host: "build1.lab.example" });
    const b2 = await api("GET", "/api/v1/resources/b2");
    expect(b2.body.agent).toMatchObject({ id: "host2", host: null });
    expect(usbTargetOf(b1.body)).toEqual({ host: "build1.lab.example", ids: [] });
  });

  it("a lab file with a host that is not a host name is refused", async () => {
    const { validateLabConfig } = await import("../../calendar/config/lab-config.ts");
    const { parse } = await import("yaml");
    const bad = parse(labYaml({ mqtt: false }).replace("  host2: {}", '  host2: { host: "-oProxyCommand=evil" }'));
    expect(() => validateLabConfig(bad)).toThrow(/agents\.host2\.host: a host name or address/);
  });
});
