import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { requireUnshare, runScenario } from "./namespace.ts";

/**
 * usbip handed to the holder and nobody else, with REAL nftables, a REAL
 * sshd and one network namespace per laptop (test/netns/usbip-scenario.ts):
 * the usb driver's table refuses usbipd's port from the network and lets
 * through on lo only the holder's uid, which is what the holder's SSH tunnel
 * (`labhog attach`) arrives as. usbipd itself is a STAND-IN (a TCP listener
 * greeting "USBIPD-STAND-IN"): usbipd needs kernel modules this machine lacks.
 */
let r: any;
beforeAll(async () => {
  requireUnshare();
  const out = await runScenario(fileURLToPath(new URL("./usbip-scenario.ts", import.meta.url)), { timeoutMs: 170_000 });
  r = out.result;
  if (!r.ok) throw new Error(`scenario failed: ${r.error}\n${r.sshdLog ?? ""}\n${out.stderr.slice(-4000)}`);
}, 180_000);

const GREETING = "USBIPD-STAND-IN";
const attached = ["usbip --tcp-port N list -r 127.0.0.1", "usbip port", "usbip --tcp-port N attach -r 127.0.0.1 -b 1-2"];

describe("usbipd reachable only by the holder", () => {
  it("without the table, both laptops and any local user reach usbipd (what the table is for)", () => {
    expect(r.phases.open).toEqual({ alice: GREETING, bob: GREETING, alicesUid: GREETING });
  });

  it("bob's booking: the table is in place before the device is bound, and names only bob's uid", () => {
    expect(r.phases.bob.table).toContain('iifname != "lo" tcp dport 3240 counter packets 0 bytes 0 reject with tcp reset');
    expect(r.phases.bob.table).toContain('oifname "lo" tcp dport 3240 meta skuid != 62001 counter packets 0 bytes 0 reject with tcp reset');
    expect(r.phases.bob.bound).toEqual(["1-2"]);
    expect(r.phases.bob.hostCalls).toEqual(["usbip bind -b 1-2"]);
    expect(r.phases.bob.problems).toEqual([]);
  });

  it("from the network, nobody connects to port 3240 — not even the holder's laptop", () => {
    expect(r.phases.bob.direct).toEqual({ bob: "refused", alice: "refused" });
  });

  it("on the host, only bob's uid connects (alice and root are refused)", () => {
    expect(r.phases.bob.onHost).toEqual({ bob: GREETING, alice: "refused", root: "refused" });
    expect(r.phases.bob.reachedByProbes).toEqual(["127.0.0.1"]);
  });

  it("bob's laptop attaches through his SSH tunnel; alice's laptop, through hers, can't", () => {
    const { bob, alice } = r.phases.bob.attach;
    expect(bob.code).toBe(0);
    expect(bob.calls).toEqual(attached);
    expect(bob.out).toContain("attached 0483:df11 STMicroelectronics : STM Device in DFU Mode (127.0.0.1 1-2)");
    expect(alice.code).toBe(1);
    // Her tunnel is up, but sshd's forward for her is reset by the table: usbip never gets a greeting.
    expect(alice.calls).toEqual(["usbip --tcp-port N list -r 127.0.0.1"]);
    expect(alice.err).toMatch(/usbip: error: recv op_common/);
    expect(alice.err).toContain("usbipd on 10.77.2.1 answers only the current holder's login");
    expect(r.phases.bob.sshdRefusedForward).toBe(true);
    // Only bob's tunnel reached usbipd: its readiness check, the list and the attach.
    expect(r.phases.bob.reachedByAttach).toEqual(["127.0.0.1", "127.0.0.1", "127.0.0.1"]);
  });

  it("the next booking is alice's: the table follows the holder", () => {
    expect(r.phases.alice.onHost).toEqual({ bob: "refused", alice: GREETING });
    expect(r.phases.alice.attach.alice.code).toBe(0);
    expect(r.phases.alice.attach.alice.calls).toEqual(attached);
    expect(r.phases.alice.attach.bob.code).toBe(1);
    expect(r.phases.alice.attach.bob.calls).toEqual(["usbip --tcp-port N list -r 127.0.0.1"]);
  });

  it("release: nothing bound and no table left", () => {
    expect(r.phases.released).toEqual({ table: null, bound: [], problems: [] });
  });

  it("after a kill -9 the table stays closed to others; the restarted agent's release removes it", () => {
    expect(r.phases.restart.afterKill.table).toContain("meta skuid != 62001");
    expect(r.phases.restart.afterKill).toMatchObject({ bob: GREETING, alice: "refused" });
    expect(r.phases.restart.state).toEqual({ active: true, devices: [{ id: "0483:df11:BOARD42", bound: "1-2" }], allowedUids: [62001] });
    expect(r.phases.restart.afterRelease).toEqual({ table: null, bob: GREETING, alice: GREETING });
  });

  it("under the real agent: a leftover table is removed at start-up; bob's booking enforced ok with only bob let through", () => {
    const a = r.phases.agent;
    expect(a.leftover).toContain("meta skuid != 62002");
    expect(a.idle).toEqual({ table: null, alice: GREETING });
    expect(a.booked).toEqual({ enforced: { ok: true, holder: "bob" }, bound: ["1-2"], bob: GREETING, alice: "refused", fromNetwork: "refused" });
  });

  it("under the real agent: kill -9 keeps others out; the booking ends while it is down and the restarted agent unbinds and removes the table", () => {
    const a = r.phases.agent;
    expect(a.whileDead).toEqual({ bound: ["1-2"], bob: GREETING, alice: "refused" });
    expect(a.restarted).toEqual({ table: null, bound: [], bob: GREETING });
    expect(a.failed).toEqual([]);
  });

  it("nothing is saved for a reboot: the system's nftables file is untouched", () => {
    expect(r.phases.persistence).toEqual({ confUnchanged: true });
    expect(r.failedEvents).toEqual([]);
  });
});
