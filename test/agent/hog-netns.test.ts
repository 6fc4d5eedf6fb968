import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { requireUnshare, runScenario } from "../netns/namespace.ts";

/**
 * Hogging with a REAL sshd (PAM, password and keyboard-interactive logins on)
 * and REAL ssh logins, inside private mount + net + pid namespaces
 * (test/netns/hog-scenario.ts runs there and prints JSON). Needs root and
 * unshare(1); nothing is mounted in the machine's namespace.
 *
 * "Locked out" is always one of two exact outcomes, never "some ssh failure":
 * the hog's message (a key restricted to the status command), or sshd
 * refusing for the reason the hog's rule sets (only public keys, read only
 * from /run/labhog/hog/keys/<user>), as the client and sshd's log say.
 */
type Login = { code: number | null; out: string; sshdLog?: string };
const shell = (user: string) => new RegExp(`^SHELL-OK ${user}\\n$`);
const hogMessage = /^host1 is held by bob \(bob\) until [^\n]* UTC\.\nSSH logins of other users only show this message until the reservation ends\.\n[\s\S]*Schedule and booking: https:\/\/lab\.example\/status\n/;
const KEYS = "/run/labhog/hog/keys";
const A = "/home/alice/.ssh/authorized_keys";
const A2 = "/home/alice/.ssh2/authorized_keys";
const B = "/home/bob/.ssh/authorized_keys";
const C = "/etc/labhog-test-keys/carol";
const D = "/home/dave/.ssh/authorized_keys";
const R = "/etc/labhog-test-keys/root";
const E = "/home/erin/.ssh/authorized_keys";
const E2 = "/home/erin/dotfiles/ssh/authorized_keys";
const none = { [A]: 0, [A2]: 0, [B]: 0, [C]: 0, [D]: 0, [R]: 0, [E]: 0, [E2]: 0 };

/** sshd offered only public keys (the rule's AuthenticationMethods): the password was never even asked for. */
function passwordRefusedByRule(l: Login, user: string): void {
  expect(l.code).toBe(255);
  expect(l.out).toBe(`${user}@127.0.0.1: Permission denied (publickey).\r\n`);
  expect(l.sshdLog).not.toMatch(/(Accepted|Failed) (password|keyboard-interactive)/);
}
/** The key is not in the hog's file, and that file is the only one sshd read. */
function keyRefusedByRule(l: Login, user: string): void {
  expect(l.code).toBe(255);
  expect(l.out).toBe(`${user}@127.0.0.1: Permission denied (publickey).\r\n`);
  expect(l.sshdLog).toContain(`trying public key file ${KEYS}/${user}`);
  expect(l.sshdLog).toContain(`Failed publickey for ${user} from 127.0.0.1`);
  expect(l.sshdLog).not.toMatch(/trying public key file \/(home|etc)\//);
}
/** The hog's message, from the key as restricted in the hog's own file. */
function gotHogMessage(l: Login, user: string): void {
  expect(l.out).toMatch(hogMessage);
  expect(l.out).not.toContain("SHELL-OK");
  expect(l.sshdLog).toMatch(new RegExp(`found at ${KEYS}/${user}:\\d+`));
  expect(l.sshdLog).not.toMatch(/trying public key file \/(home|etc)\//);
}
function everyoneIn(l: Record<string, Login>): void {
  for (const u of ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "root"]) expect(l[u]!.out, u).toMatch(shell(u));
  for (const [k, u] of [["aliceNew", "alice"], ["alicePassword", "alice"], ["aliceKbd", "alice"], ["bobPassword", "bob"], ["davePassword", "dave"], ["erinPassword", "erin"]] as const) expect(l[k]!.out, k).toMatch(shell(u));
  expect(l.bobLaptop!.out).toBe("bob@127.0.0.1: Permission denied (publickey,password,keyboard-interactive).\r\n");
}
function holderAdminRootIn(l: Record<string, Login>): void {
  for (const k of ["bob", "bobLaptop", "bobPassword"]) expect(l[k]!.out, k).toMatch(shell("bob"));
  for (const k of ["dave", "davePassword"]) expect(l[k]!.out, k).toMatch(shell("dave"));
  expect(l.root!.out).toMatch(shell("root"));
}

describe("hog with real sshd in a private namespace", () => {
  let r: any;

  it("runs the scenario", async () => {
    requireUnshare();
    const { result, stderr } = await runScenario(fileURLToPath(new URL("../netns/hog-scenario.ts", import.meta.url)), { timeoutMs: 230_000 });
    r = result;
    if (!r.ok) console.error(r.error, r.agentLogTail, r.sshdLogTail, stderr.slice(-3000));
    expect(r.ok).toBe(true);
  }, 240_000);

  it("before: everybody logs in, with keys (erin's through a symlink) and with passwords (PAM); frank has no keys file yet", () => {
    const l = r.phases.before.logins;
    for (const u of ["alice", "bob", "carol", "dave", "erin", "gina", "root"]) expect(l[u].out).toMatch(shell(u));
    expect(l.gina.sshdLog).toMatch(/Accepted publickey for gina/);
    expect(l.gina.sshdLog).not.toContain("found at /home/gina");
    for (const [k, u] of [["alicePassword", "alice"], ["aliceKbd", "alice"], ["bobPassword", "bob"], ["davePassword", "dave"], ["erinPassword", "erin"]] as const) expect(l[k].out, k).toMatch(shell(u));
    expect(l.frank.out).toBe("frank@127.0.0.1: Permission denied (publickey,password,keyboard-interactive).\r\n");
    expect(l.aliceNew.out).toBe("alice@127.0.0.1: Permission denied (publickey,password,keyboard-interactive).\r\n");
    expect(l.bobLaptop.code).toBe(255);
    expect(r.phases.before.mounts).toEqual(none);
    expect(r.phases.before.files).toEqual({ rule: false, dropIn: false, dropInText: null });
  });

  it("while bob holds it: bob (own key, schedule key, password), admin dave (key, password) and root get a shell", () => {
    holderAdminRootIn(r.phases.during.logins);
  });

  it("while bob holds it: alice's password and keyboard-interactive (PAM) logins are refused, sshd offering only public keys", () => {
    const l = r.phases.during.logins;
    passwordRefusedByRule(l.alicePassword, "alice");
    passwordRefusedByRule(l.aliceKbd, "alice");
    passwordRefusedByRule(l.erinPassword, "erin");
  });

  it("while bob holds it: keys get the hog message, also erin's through a symlinked authorized_keys (not mounted over)", () => {
    const l = r.phases.during.logins;
    gotHogMessage(l.alice, "alice");
    gotHogMessage(l.erin, "erin");
    expect(l.carol.out).toMatch(hogMessage);
    expect(r.phases.during.mounts[E]).toBe(0);
    expect(r.phases.during.mounts[E2]).toBe(0);
    expect(r.phases.during.hogEvents).toContainEqual({ action: "hog-user", ok: true, message: expect.stringMatching(/^erin: .* symlink .*the sshd rule locks it$/) });
  });

  it("while bob holds it: a keys file created after the lock (frank) and a new key in a ~/.ssh alice swapped from her open session are refused", () => {
    const s = r.phases.during.aliceSession.out;
    expect(s).toContain("MOVED-42"); // her mv ~/.ssh ~/.ssh2 && mkdir ~/.ssh && … ran
    const l = r.phases.during.logins;
    keyRefusedByRule(l.aliceNew, "alice");
    keyRefusedByRule(l.frank, "frank");
    // Her original mount went along with the renamed folder.
    expect(r.phases.during.mounts).toEqual({ ...none, [A2]: 1, [B]: 1, [C]: 1 });
  });

  it("while bob holds it: gina, whose key only an AuthorizedKeysCommand knows, is refused (the rule turns the command off)", () => {
    keyRefusedByRule(r.phases.during.logins.gina, "gina");
    keyRefusedByRule(r.phases.restarted.logins.gina, "gina");
  });

  it("the rule: a drop-in in sshd's Include folder that only points under /run, and a Match for everyone but root, admins and the holder", () => {
    const f = r.phases.during.files;
    expect(f.rule).toBe(true);
    expect(f.dropInText).toMatch(/^# Written by the labhog agent.*\n(#.*\n)*Include "\/run\/labhog\/hog\/sshd\.conf"\n$/);
    expect(r.phases.during.rule).toContain("Match User *,!bob,!dave,!root\n\tAuthenticationMethods publickey\n\tAuthorizedKeysFile /run/labhog/hog/keys/%u\n\tAuthorizedKeysCommand none\n");
    expect(r.phases.during.managedKeys).toMatch(/^(restrict,command="\/run\/labhog-netns\/bin\/labhog status --file \/run\/labhog-netns\/state\/status\.json" ssh-ed25519 \S+ alice@(test|new)\n)+$/);
    expect(r.phases.during.lockedFile).toMatch(/^ssh-ed25519 \S+ bob@test\nssh-ed25519 \S+ bob@laptop\n$/);
    expect(r.phases.during.enforced).toMatchObject({ ok: true, reservation: "res-1" });
  });

  it("alice's open session is told (real wall, tty warning) and ended after the grace period, reported as ended", () => {
    const s = r.phases.during.aliceSession;
    expect(s.out).toContain("Broadcast message from root");
    expect(s.out.replace(/[\r\n]/g, "")).toContain("labhog: host1 is now held by bob until");
    expect(s.out).toContain("*** labhog: bob holds this host until");
    expect(s.out).toContain("your session ends in 4 s");
    expect(s.endedAfterMs).not.toBeNull();
    const ev = r.phases.during.hogEvents;
    const warned = ev.find((e: any) => e.action === "sessions-warned");
    expect(warned).toMatchObject({ ok: true, message: "warned alice; ending in 4000 ms" });
    expect(r.phases.during.sessionsEnded).toMatchObject({ ok: true, message: "alice" });
    // Ended after the grace, not before: the agent's own timestamps of both events.
    expect(Date.parse(r.phases.during.sessionsEnded.time) - Date.parse(r.phases.during.sessionsWarned.time)).toBeGreaterThanOrEqual(3990);
    expect(r.phases.wallReal.some((w: any) => w.ok && /now held by bob/.test(w.message))).toBe(true);
  });

  it("stops listed units (through a STAND-IN systemctl), pops up in tmux clients (STAND-IN tmux), writes the motd", () => {
    expect(r.phases.during.systemctl).toEqual([["stop", "fake-batch.service"]]);
    expect(r.phases.during.tmux).toContainEqual(["display-popup", "-c", "/dev/pts/99", "-T", "labhog", "-w", "70", "-h", "8", "cat -- /run/labhog-netns/state/notify/host1.txt"]);
    expect(r.phases.during.motd).toMatch(/reservations of host1 today[\s\S]*bob\s+<- now/);
  });

  it("kill -9 mid-reservation: mounts and rule stay; the restarted agent neither stacks nor drops them", () => {
    expect(r.phases.afterKill.mounts).toEqual({ ...none, [A2]: 1, [B]: 1, [C]: 1 });
    expect(r.phases.afterKill.files.rule).toBe(true);
    passwordRefusedByRule(r.phases.afterKill.alicePassword, "alice");
    const { logins: l, mounts } = r.phases.restarted;
    // Re-applied: alice's and frank's current files are mounted over too (her moved one stays mounted until release).
    expect(mounts).toEqual({ ...none, [A]: 1, [A2]: 1, [B]: 1, [C]: 1 });
    holderAdminRootIn(l);
    passwordRefusedByRule(l.alicePassword, "alice");
    passwordRefusedByRule(l.erinPassword, "erin");
    // Re-reading the users' files at re-apply turns the later keys into restricted ones: the message instead of a refusal.
    for (const [k, u] of [["alice", "alice"], ["aliceNew", "alice"], ["erin", "erin"], ["frank", "frank"]]) gotHogMessage(l[k!], u!);
  });

  it("after release: everybody logs in again with keys and passwords; no mounts (the moved one too), no rule, the unit is started again", () => {
    const { logins: l, mounts, files, systemctl, enforced } = r.phases.released;
    expect(enforced).toMatchObject({ ok: true, message: "free" });
    everyoneIn(l);
    expect(mounts).toEqual(none);
    expect(files).toEqual({ rule: false, dropIn: false, dropInText: null });
    expect(systemctl).toEqual([["stop", "fake-batch.service"], ["start", "fake-batch.service"]]);
  });

  it("a reservation that ended while the agent was dead (kill -9) is undone at start-up", () => {
    const p = r.phases.startupUndo;
    expect(p.lockedWhileDown.out).toMatch(hogMessage);
    expect(p.passwordWhileDown.out).toBe("alice@127.0.0.1: Permission denied (publickey).\r\n");
    expect(p.staleBefore[A]).toBe(1);
    expect(p.mounts).toEqual(none);
    expect(p.files).toEqual({ rule: false, dropIn: false, dropInText: null });
    expect(p.alice.out).toMatch(shell("alice"));
    expect(p.alicePassword.out).toMatch(shell("alice"));
  });

  it("a reboot mid-reservation (mounts and /run gone, state file kept): nobody is locked out before the agent is back; it locks again, then releases", () => {
    const p = r.phases.reboot;
    expect(p.lockedBefore.out).toBe("alice@127.0.0.1: Permission denied (publickey).\r\n");
    expect(p.stateFileHog).toMatchObject({ reservation: "res-4", sshd: { dropIn: expect.stringMatching(/00-labhog-hog\.conf$/) } });
    expect(p.stateFileHog.mounts.length).toBeGreaterThan(0);
    // The drop-in survived the reboot but points at a /run file that did not.
    expect(p.files).toMatchObject({ rule: false, dropIn: true });
    expect(p.mounts).toEqual(none);
    expect(p.alice.out).toMatch(shell("alice"));
    expect(p.alicePassword.out).toMatch(shell("alice"));
    expect(p.erin.out).toMatch(shell("erin"));
    expect(p.relocked.enforced).toMatchObject({ ok: true, reservation: "res-4" });
    expect(p.relocked.hogEvents.map((e: any) => e.action)).toContain("sshd-locked");
    expect(p.relocked.alicePassword.out).toBe("alice@127.0.0.1: Permission denied (publickey).\r\n");
    expect(p.relocked.erin.out).toMatch(hogMessage);
    expect(p.freed).toMatchObject({ ok: true, message: "free" });
    expect(p.after.mounts).toEqual(none);
    expect(p.after.files).toEqual({ rule: false, dropIn: false, dropInText: null });
    for (const k of ["alice", "alicePassword"]) expect(p.after[k].out).toMatch(shell("alice"));
    expect(p.after.erin.out).toMatch(shell("erin"));
  });

  it("start and end by the agent's clock: never early, and not at the next 30 s check", () => {
    const b = r.phases.boundaries;
    expect(b.startLateMs).toBeGreaterThanOrEqual(0);
    expect(b.startLateMs).toBeLessThan(5000);
    // The end is reported once sshd took the rule away (checked, reloaded) and the mounts are undone.
    expect(b.endLateMs).toBeGreaterThanOrEqual(0);
    expect(b.endLateMs).toBeLessThan(5000);
    expect(b.mounts).toEqual(none);
    expect(b.alice.out).toMatch(shell("alice"));
  });

  it("sessionGrace: off leaves other users' sessions alone: carol's terminal is neither warned nor ended, while her new logins are locked", () => {
    const g = r.phases.graceOff;
    expect(g.enforced).toMatchObject({ ok: true, reservation: "res-7" });
    expect(g.out).toContain("STILL-42");
    expect(g.out).not.toContain("your session ends");
    expect(g.exited).toBe(false);
    expect(g.hogEvents.map((e: any) => e.action)).not.toContain("sessions-warned");
    expect(g.hogEvents.map((e: any) => e.action)).not.toContain("sessions-ended");
    expect(g.carol.out).toMatch(hogMessage);
  });

  it("the hog reported no failure along the way (its failures would be events with ok: false)", () => {
    expect(r.phases.failedEvents.filter((e: any) => e.driver !== "agent" || e.action === "enforced")).toEqual([]);
  });
});
