import { execFile } from "node:child_process";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ExecFn } from "../../edge-agent/drivers/deps.ts";
import type { AgentEvent, DriverContext } from "../../edge-agent/drivers/driver.ts";
import { HogDriver } from "../../edge-agent/drivers/hog/index.ts";
import { hogOptionsSchema } from "../../edge-agent/config/agent-config.ts";
import { createLogger } from "../../edge-agent/log.ts";
import { privateRunExecFor } from "./private-run.ts";
import { tempDir } from "../services/process.ts";
import { requireUnshare } from "../netns/namespace.ts";
import { entry } from "./helpers.ts";

/**
 * The hog reports what it could not do: apply throws, problems() lists it,
 * an event says ok: false, and nothing half-done is left in sshd's config.
 * The REAL sshd checks the configs (in a private mount namespace for its
 * /run/sshd); users have no keys files, so nothing is mounted.
 */
const SSHD = "/usr/sbin/sshd";
/** Runs sshd with a private /run/sshd; everything else as is. */
const exec: ExecFn = privateRunExecFor(SSHD);

async function setup(mainConfig: (dir: string) => string, o: { exec?: ExecFn; sessionGrace?: string } = {}) {
  const dir = await tempDir("hog-fail");
  await mkdir(join(dir, "conf.d"), { recursive: true });
  await mkdir(join(dir, "home", "alice"), { recursive: true });
  await new Promise<void>((res, rej) => execFile("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hk")], (e) => (e ? rej(e) : res())));
  await writeFile(join(dir, "passwd"), `root:x:0:0:root:/root:/bin/bash\nalice:x:61001:61001::${dir}/home/alice:/bin/bash\nbob:x:61002:61002::${dir}/home/bob:/bin/bash\n`);
  await writeFile(join(dir, "sshd_config"), mainConfig(dir));
  const events: AgentEvent[] = [];
  const ctx: DriverContext = { resource: "host1", log: createLogger({ level: "error" }), simulate: false, emit: (e) => events.push({ ...e, resource: "host1", driver: "hog" }) };
  const opts = hogOptionsSchema.parse({ sshdConfig: join(dir, "sshd_config"), sshdPath: SSHD, passwdFile: join(dir, "passwd"), authorizedKeysFile: ".ssh/authorized_keys", sessionGrace: o.sessionGrace ?? "off" });
  const hog = new HogDriver(opts, { log: ctx.log, simulate: false, exec: o.exec ?? exec, sessionTermMs: 0, stateDir: join(dir, "state"), statusCommand: "labhog status", checkpoint: async () => {}, runDir: join(dir, "run"), privsepDir: join(dir, "privsep") });
  const res = entry({ id: "r1", start: new Date(Date.now() - 1000), end: new Date(Date.now() + 60_000) });
  return { dir, hog, ctx, events, res };
}

describe("hog failures are reported, never assumed away", () => {
  it("an sshd_config without an Include folder: apply throws why and what to add; problems() and an ok:false event say the same", async () => {
    const { hog, ctx, events, res } = await setup((d) => `HostKey ${d}/hk\nUsePAM yes\n`);
    await expect(hog.apply(res, ctx)).rejects.toThrow(/^hog not fully in force: sshd rule not applied \(password, keyboard-interactive and new keys files stay open\): .*has no Include of a drop-in folder/);
    expect(hog.problems()).toEqual([expect.stringMatching(/add "Include \/etc\/ssh\/sshd_config\.d\/\*\.conf" as its first line$/)]);
    expect(events.find((e) => e.action === "sshd-locked")).toMatchObject({ ok: false });
    expect(events.find((e) => e.action === "hogged")).toMatchObject({ ok: false, message: expect.stringContaining("NO sshd rule") });
  });

  it("an sshd_config that sshd -t rejects: the rule is never installed (no file in the Include folder, none under /run)", async () => {
    requireUnshare(["--mount", "--propagation", "private"]);
    const { dir, hog, ctx, res } = await setup((d) => `Include ${d}/conf.d/*.conf\nHostKey ${d}/hk\nNoSuchOption yes\n`);
    await expect(hog.apply(res, ctx)).rejects.toThrow(/sshd -t -f .* rejects the configuration: .*NoSuchOption/);
    expect(await readdir(join(dir, "conf.d"))).toEqual([]);
    expect((await readdir(join(dir, "run"))).filter((f) => f.endsWith(".conf"))).toEqual([]);
  });

  it("a Match block of the admin's that comes first and would override the rule: found by sshd -T, undone, reported", async () => {
    requireUnshare(["--mount", "--propagation", "private"]);
    const { dir, hog, ctx, res } = await setup((d) => `Include ${d}/early.conf\nInclude ${d}/conf.d/*.conf\nHostKey ${d}/hk\n`);
    // Included before the drop-in folder: the first Match that sets a keyword wins.
    await writeFile(join(dir, "early.conf"), "Match User alice\n\tAuthenticationMethods password\n");
    await expect(hog.apply(res, ctx)).rejects.toThrow(/the hog's rule is not in force for alice .*authenticationmethods is "password", not "publickey"/);
    expect(await readdir(join(dir, "conf.d"))).toEqual([]);
    expect(await readFile(join(dir, "run", "sshd.conf"), "utf8").catch(() => "absent")).toBe("absent");
  });

  it("a session that will not end: the grace's end reports it (ok: false event, problems()), naming the survivors", async () => {
    // ps and pkill stand-ins: alice (uid 61001) has a terminal and a bash that survives every signal.
    const calls: string[][] = [];
    const fake: ExecFn = async (file, args, opts) => {
      calls.push([file, ...args]);
      if (file === "ps" && args.join(" ") === "-e -o uid=,tty=") return { stdout: "61001 pts/42\n", stderr: "" };
      if (file === "ps" && args.includes("tty=")) return { stdout: "?\n", stderr: "" };
      if (file === "ps") return { stdout: "340 S bash\n", stderr: "" };
      if (file === "pkill" || file === "loginctl") return { stdout: "", stderr: "" };
      return exec(file, args, opts);
    };
    const { hog, ctx, events, res } = await setup((d) => `HostKey ${d}/hk\n`, { exec: fake, sessionGrace: "50ms" });
    await expect(hog.apply(res, ctx)).rejects.toThrow(/sshd rule not applied/);
    for (let i = 0; i < 100 && !events.some((e) => e.action === "sessions-ended"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(events.find((e) => e.action === "sessions-warned")).toMatchObject({ ok: true, message: "warned alice; ending in 50 ms" });
    expect(events.find((e) => e.action === "sessions-ended")).toMatchObject({ ok: false, message: "cannot end alice's session: processes of alice still run after SIGTERM and SIGKILL: 340 bash" });
    expect(hog.problems()).toContain("cannot end alice's session: processes of alice still run after SIGTERM and SIGKILL: 340 bash");
    expect(calls.filter((c) => c[0] === "pkill")).toEqual([["pkill", "-TERM", "-u", "alice"], ["pkill", "-KILL", "-u", "alice"]]);
    await hog.release(ctx).catch(() => undefined);
    expect(hog.problems().filter((p) => p.includes("session"))).toEqual([]);
  });
});
