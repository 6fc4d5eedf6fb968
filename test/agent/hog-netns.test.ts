import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { requireUnshare, runScenario } from "../netns/namespace.ts";

/**
 * Hogging with a REAL sshd and REAL ssh logins, inside private mount + net +
 * pid namespaces (test/netns/hog-scenario.ts runs there and prints JSON).
 * Needs root and unshare(1); nothing is mounted in the machine's namespace.
 */
const shell = (user: string) => new RegExp(`^SHELL-OK ${user}\\n$`);
const hogMessage = /^host1 is held by bob \(bob\) until .* UTC\.\nSSH logins of other users only show this message until the reservation ends\.\nSchedule and booking: https:\/\/lab\.example\/status\n/;
const A = "/home/alice/.ssh/authorized_keys";
const B = "/home/bob/.ssh/authorized_keys";
const C = "/etc/labhog-test-keys/carol";
const D = "/home/dave/.ssh/authorized_keys";
const R = "/etc/labhog-test-keys/root";

describe("hog with real sshd in a private namespace", () => {
  let r: any;

  it("runs the scenario", async () => {
    requireUnshare();
    const { result, stderr } = await runScenario(fileURLToPath(new URL("../netns/hog-scenario.ts", import.meta.url)), { timeoutMs: 170_000 });
    r = result;
    if (!r.ok) console.error(r.error, r.agentLogTail, r.sshdLogTail, stderr.slice(-3000));
    expect(r.ok).toBe(true);
  }, 180_000);

  it("before: everybody logs in; the laptop key bob has only in the schedule does not work yet", () => {
    const l = r.phases.before.logins;
    for (const u of ["alice", "bob", "carol", "dave", "root"]) expect(l[u].out).toMatch(shell(u));
    expect(l.bobLaptop.code).toBe(255);
    expect(Object.values(r.phases.before.mounts)).toEqual([0, 0, 0, 0, 0]);
  });

  it("while bob holds it: bob (own key and schedule key), admin dave and root get a shell; alice and carol get the hog message and no shell", () => {
    const { logins: l, mounts } = r.phases.during;
    expect(l.bob.out).toMatch(shell("bob"));
    expect(l.bobLaptop.out).toMatch(shell("bob"));
    expect(l.dave.out).toMatch(shell("dave"));
    expect(l.root.out).toMatch(shell("root"));
    for (const u of ["alice", "carol"]) {
      expect(l[u].out).toMatch(hogMessage);
      expect(l[u].out).not.toContain("SHELL-OK");
    }
    // one bind mount per locked/holder file, both AuthorizedKeysFile patterns (%h-relative and /etc/…/%u)
    expect(mounts).toEqual({ [A]: 1, [B]: 1, [C]: 1, [D]: 0, [R]: 0 });
    expect(r.phases.during.lockedFile).toMatch(/^restrict,command="\S+ \S+labhog\.mjs status --file \/run\/labhog-netns\/state\/status\.json" ssh-ed25519 \S+ alice@test\n$/);
  });

  it("alice's open session is told (real wall, tty warning) and ended after the grace period", () => {
    const s = r.phases.during.aliceSession;
    expect(s.out).toContain("Broadcast message from root");
    expect(s.out.replace(/[\r\n]/g, "")).toContain("labhog: host1 is now held by bob until");
    expect(s.out).toContain("*** labhog: bob holds this host until");
    expect(s.out).toContain("your session ends in 2 s");
    expect(s.endedAfterMs).not.toBeNull();
    expect(s.endedAfterMs).toBeLessThan(6000);
    expect(r.phases.during.sessionsEnded.message).toContain("alice");
    expect(r.phases.wallReal.some((w: any) => w.ok && /now held by bob/.test(w.message))).toBe(true);
  });

  it("stops listed units (through a STAND-IN systemctl), pops up in tmux clients (STAND-IN tmux), writes the motd", () => {
    expect(r.phases.during.systemctl).toEqual([["stop", "fake-batch.service"]]);
    expect(r.phases.during.tmux).toContainEqual(["display-popup", "-c", "/dev/pts/99", "-T", "labhog", "-w", "70", "-h", "8", "cat -- /run/labhog-netns/state/notify/host1.txt"]);
    expect(r.phases.during.motd).toMatch(/reservations of host1 today[\s\S]*bob\s+<- now/);
  });

  it("kill -9 mid-reservation: the mounts stay, and the restarted agent neither stacks nor drops them", () => {
    expect(r.phases.afterKill.mounts).toEqual({ [A]: 1, [B]: 1, [C]: 1, [D]: 0, [R]: 0 });
    const { logins: l, mounts } = r.phases.restarted;
    expect(mounts).toEqual({ [A]: 1, [B]: 1, [C]: 1, [D]: 0, [R]: 0 });
    expect(l.bob.out).toMatch(shell("bob"));
    expect(l.bobLaptop.out).toMatch(shell("bob"));
    expect(l.root.out).toMatch(shell("root"));
    expect(l.dave.out).toMatch(shell("dave"));
    expect(l.alice.out).toMatch(hogMessage);
    expect(l.carol.out).toMatch(hogMessage);
  });

  it("after release: alice logs in again, no mounts left, the unit is started again", () => {
    const { logins: l, mounts, systemctl } = r.phases.released;
    for (const u of ["alice", "bob", "carol", "dave", "root"]) expect(l[u].out).toMatch(shell(u));
    expect(l.bobLaptop.code).toBe(255);
    expect(Object.values(mounts)).toEqual([0, 0, 0, 0, 0]);
    expect(systemctl).toEqual([["stop", "fake-batch.service"], ["start", "fake-batch.service"]]);
  });

  it("a reservation that ended while the agent was dead (kill -9) is undone at start-up", () => {
    const p = r.phases.startupUndo;
    expect(p.lockedWhileDown.out).toMatch(hogMessage);
    expect(p.staleBefore[A]).toBe(1);
    expect(Object.values(p.mounts)).toEqual([0, 0, 0, 0, 0]);
    expect(p.alice.out).toMatch(shell("alice"));
  });

  it("start and end by the agent's clock, each within a second", () => {
    const b = r.phases.boundaries;
    expect(b.startLateMs).toBeGreaterThanOrEqual(0);
    expect(b.startLateMs).toBeLessThan(1000);
    expect(b.endLateMs).toBeGreaterThanOrEqual(0);
    expect(b.endLateMs).toBeLessThan(1000);
    expect(Object.values(b.mounts)).toEqual([0, 0, 0, 0, 0]);
    expect(b.alice.out).toMatch(shell("alice"));
  });
});
