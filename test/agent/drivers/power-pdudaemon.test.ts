import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationError } from "../../../calendar/errors.ts";
import { createPowerDriver, parsePowerConfig, type PowerConfigInput } from "../../../edge-agent/drivers/power/index.ts";
import { startPdudaemon, type PdudaemonService } from "./pdudaemon-service.ts";
import { entry, testContext } from "./helpers.ts";

let pdu: PdudaemonService;
beforeAll(async () => { pdu = await startPdudaemon(["lab"]); });
afterAll(async () => { await pdu?.stop(); });

function config(): PowerConfigInput {
  return {
    actuators: {
      pdu: { type: "pdudaemon", url: pdu.url, hostname: "lab" },
      // A PDU pdudaemon does not know: every request is refused with HTTP 500.
      ghost: { type: "pdudaemon", url: pdu.url, hostname: "nosuch" },
    },
    devices: {
      board: {
        modes: {
          off: { steps: [{ actuator: "pdu", parameters: { port: 1, request: "off" } }, { actuator: "pdu", parameters: { port: 2, request: "off" }, stabilisation: "300ms" }] },
          on: { depends: "off", steps: [{ actuator: "pdu", parameters: { port: 2, request: "on" }, stabilisation: "400ms" }, { actuator: "pdu", parameters: { port: 1, request: "on" } }] },
        },
      },
      fan: {
        modes: {
          off: { steps: [{ actuator: "ghost", parameters: { port: 7, request: "off" } }] },
          on: { steps: [{ actuator: "ghost", parameters: { port: 7, request: "on" } }, { actuator: "pdu", parameters: { port: 3, request: "on" } }] },
        },
      },
    },
  };
}

describe("power sequences against a real pdudaemon (localcmdline)", () => {
  it("enters `on` after its dependency `off`, in order, with the stabilisation delays; a failing device is reported and the rest goes on", async () => {
    const { ctx, deps, events } = testContext();
    const drv = createPowerDriver(config(), deps);
    const t0 = Date.now();
    await drv.apply(entry(), ctx);
    const lines = (await pdu.outlets()).filter((l) => l.at >= t0 - 5);
    // board: off (1, 2) then on (2, 1); fan: ghost refused, so its sequence stopped before port 3.
    expect(lines.map((l) => `${l.pdu} ${l.port} ${l.request}`)).toEqual(["lab 1 off", "lab 2 off", "lab 2 on", "lab 1 on"]);
    const at = (p: string, r: string) => lines.find((l) => l.port === p && l.request === r)!.at;
    expect(at("2", "on") - at("2", "off")).toBeGreaterThanOrEqual(300);
    expect(at("1", "on") - at("2", "on")).toBeGreaterThanOrEqual(400);
    const failed = events.filter((e) => !e.ok);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]!.message).toMatch(/fan on step 1 \(ghost\).*HTTP 500/);
    expect(events.some((e) => e.ok && e.message === "board is in mode on")).toBe(true);
    // pdudaemon cannot read back: the state is the last mode entered.
    expect(await drv.readState()).toEqual({ board: "on", fan: "on" });
  });

  it("is idempotent for the same reservation, and `off` at the end tries every step", async () => {
    const { ctx, deps, events } = testContext();
    const drv = createPowerDriver(config(), deps);
    await drv.apply(entry({ id: "r2" }), ctx);
    const t1 = Date.now();
    await drv.apply(entry({ id: "r2" }), ctx); // the agent re-applies after a crash: no power cycle
    expect((await pdu.outlets()).filter((l) => l.at >= t1)).toEqual([]);
    // A fresh driver restored from the persisted state knows too.
    const again = createPowerDriver(config(), deps);
    await again.restore!(JSON.parse(JSON.stringify(drv.state!())), ctx);
    await again.apply(entry({ id: "r2" }), ctx);
    expect((await pdu.outlets()).filter((l) => l.at >= t1)).toEqual([]);

    const t2 = Date.now();
    await again.release(ctx);
    const off = (await pdu.outlets()).filter((l) => l.at >= t2).map((l) => `${l.port} ${l.request}`);
    expect(off).toEqual(["1 off", "2 off"]);
    expect(events.some((e) => !e.ok && /fan off step 1/.test(e.message ?? ""))).toBe(true);
    expect((await again.readState()).board).toBe("off");
  });

  it("rejects a mode dependency cycle at config time with a readable error", () => {
    const cfg = config();
    cfg.devices.board!.modes.off = { depends: "flash", steps: [] };
    cfg.devices.board!.modes.flash = { depends: "on", steps: [] };
    let err: unknown;
    try { parsePowerConfig(cfg); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toMatch(/mode dependency cycle in device "board": (on → off → flash → on|off → flash → on → off|flash → on → off → flash)/);
    expect(() => createPowerDriver({ ...config(), devices: { b: { modes: { off: { steps: [{ actuator: "nope" }] } } } } }, testContext().deps)).toThrow(/no actuator named "nope"/);
    expect(() => createPowerDriver({ ...config(), devices: { b: { modes: { off: { steps: [{ actuator: "pdu", parameters: { port: 1, request: "explode" } }] } } } } }, testContext().deps)).toThrow(/devices\.b\.modes\.off\.steps\[0\]\.parameters\.request/);
  });

  it("simulation sends nothing to pdudaemon and reports what it would do", async () => {
    const { ctx, events } = testContext("board1", true);
    const drv = createPowerDriver(config(), { ...testContext().deps, simulate: true });
    const t0 = Date.now();
    await drv.apply(entry({ id: "sim" }), ctx);
    await drv.release(ctx);
    await new Promise((r) => setTimeout(r, 200));
    expect((await pdu.outlets()).filter((l) => l.at >= t0)).toEqual([]);
    const would = events.filter((e) => e.message?.startsWith("simulate: would"));
    expect(would.map((e) => e.message)).toContain(`simulate: would board off step 2 (pdu): GET ${pdu.url}/power/control/off?hostname=lab&port=2, then wait 300 ms`);
    expect(would.length).toBe(4 + 2 + 2 + 1); // apply: board 4, fan 2; release: board 2, fan 1
    // The same lines, for `labhog agent --check`.
    expect(drv.plan("on")).toEqual(would.slice(0, 6).map((e) => e.message!.replace("simulate: would ", "")));
  });
});
