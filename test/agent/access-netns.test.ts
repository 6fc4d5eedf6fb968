import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { requireUnshare, runScenario } from "../netns/namespace.ts";

/**
 * Board device access on a shared host: real setfacl/getfacl on real
 * character device nodes inside private namespaces
 * (test/netns/access-scenario.ts), with the driver alone and under the real
 * agent. Only the holder has a named-user ACL on the board's nodes, for
 * exactly the booking, also across re-enumeration and a kill -9.
 */
let r: any;
beforeAll(async () => {
  requireUnshare();
  const out = await runScenario(fileURLToPath(new URL("../netns/access-scenario.ts", import.meta.url)), { timeoutMs: 170_000 });
  r = out.result;
  if (!r.ok) throw new Error(`scenario failed: ${r.error}\n${r.agentLogTail ?? ""}\n${out.stderr.slice(-4000)}`);
}, 180_000);

const bobOnly = ["user:bob:rw-"];
const carolsOwn = ["user:carol:rw-"];

describe("access driver: the holder, and only the holder, gets the board's device nodes", () => {
  it("apply: bob gets rw on the USB node, its tty and the by-id UART; alice's leftover entry is removed; other nodes untouched", () => {
    expect(r.phases.driverApplied.acls).toEqual({ "bus/usb/001/004": bobOnly, ttyACM0: bobOnly, ttyUSB0: bobOnly, ttyUSB9: carolsOwn });
    expect(r.phases.driverApplied.problems).toEqual([]);
  });

  it("a hotplug event after re-enumeration gives the new nodes to bob at once", () => {
    expect(r.phases.driverReenumerated.acls).toEqual({ "bus/usb/001/007": bobOnly, ttyACM1: bobOnly, ttyUSB0: bobOnly, ttyUSB9: carolsOwn });
    expect(r.phases.driverReenumerated.listeners).toBe(1);
  });

  it("a holder with no unix login here: nobody keeps access, and apply fails saying why", () => {
    expect(r.phases.driverNoLogin.error).toBe("zoe has no unix login on this host: nobody gets the devices");
    expect(r.phases.driverNoLogin.acls).toEqual({ "bus/usb/001/007": [], ttyACM1: [], ttyUSB0: [], ttyUSB9: carolsOwn });
    expect(r.phases.driverNoLogin.problems).toEqual([r.phases.driverNoLogin.error]);
  });

  it("release: no named-user entries are left and the hotplug subscription ends", () => {
    expect(r.phases.driverReleased.acls).toEqual({ "bus/usb/001/007": [], ttyACM1: [], ttyUSB0: [], ttyUSB9: carolsOwn });
    expect(r.phases.driverReleased.listeners).toBe(0);
  });
});

describe("access under the real agent", () => {
  it("start-up with nothing booked clears a leftover entry", () => {
    expect(r.phases.agentIdle.acls).toEqual({ "bus/usb/001/004": [], ttyACM0: [], ttyUSB0: [], ttyUSB9: carolsOwn });
  });

  it("a booking gives bob the nodes and the agent reports enforced ok", () => {
    expect(r.phases.agentBooked.enforced).toMatchObject({ ok: true, resource: "board1" });
    expect(r.phases.agentBooked.acls).toEqual({ "bus/usb/001/004": bobOnly, ttyACM0: bobOnly, ttyUSB0: bobOnly, ttyUSB9: carolsOwn });
  });

  it("a re-enumerated board is found by the agent and given to bob again", () => {
    expect(r.phases.agentReenumerated.acls).toEqual({ "bus/usb/001/009": bobOnly, ttyACM2: bobOnly, ttyUSB0: bobOnly, ttyUSB9: carolsOwn });
  });

  it("the end of the booking removes them", () => {
    expect(r.phases.agentReleased.acls).toEqual({ "bus/usb/001/009": [], ttyACM2: [], ttyUSB0: [], ttyUSB9: carolsOwn });
  });

  it("kill -9 mid-booking leaves them (nobody else gets in meanwhile); the restarted agent removes them once the booking is over", () => {
    expect(r.phases.agentKilled.during).toEqual({ "bus/usb/001/009": carolsOwn, ttyACM2: carolsOwn, ttyUSB0: carolsOwn, ttyUSB9: carolsOwn });
    expect(r.phases.agentKilled.whileDead.ttyACM2).toEqual(carolsOwn);
    expect(r.phases.agentKilled.afterRestart).toEqual({ "bus/usb/001/009": [], ttyACM2: [], ttyUSB0: [], ttyUSB9: carolsOwn });
  });

  it("nothing failed along the way (the restarted agent only refuses the retained schedule it had already applied)", () => {
    expect(r.phases.failed).toEqual([{ driver: "agent", action: "schedule-rejected", message: "replayed: schedule seq 3 is not newer than 3" }]);
  });
});
