import { execFile, spawn, type ChildProcess } from "node:child_process";
import { appendFile, chmod, copyFile, mkdir, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecFn } from "../../edge-agent/drivers/deps.ts";
import { lockSshd, proveRule, reloadSshd, rulePath, unlockSshd, type SshdControl } from "../../edge-agent/drivers/hog/sshd-control.ts";
import { configFingerprint, SshdProofs } from "../../edge-agent/drivers/hog/sshd-proofs.ts";
import { sshdListeners } from "../../edge-agent/drivers/hog/sshd-listeners.ts";
import { dropInSite, DROP_IN_NAME, ruleInForce, standInConfig } from "../../edge-agent/drivers/hog/sshd-rule.ts";
import { freePort, tempDir } from "../services/process.ts";
import { requireUnshare } from "../netns/namespace.ts";
import { inPrivateRun, privateRunExecFor } from "./private-run.ts";

/**
 * The hog asks sshd (`sshd -t`, `sshd -T -C`) about its rule once per
 * configuration and rule shape, and reuses that answer while nothing sshd
 * reads has changed. A REAL sshd runs (in a private mount namespace, for its
 * /run/sshd), is reloaded by every lock and unlock, and every sshd process
 * the hog starts is counted.
 */
const SSHD = "/usr/sbin/sshd";
/** Runs sshd with a private /run/sshd (counting its runs); everything else as is. */
const sshdCalls: string[][] = [];
const privateRun = privateRunExecFor(SSHD);
const exec: ExecFn = (file, args, opts) => {
  if (file === SSHD) sshdCalls.push([...args]);
  return privateRun(file, args, opts);
};
const keygen = (path: string) => new Promise<void>((res, rej) => execFile("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path], (e) => (e ? rej(e) : res())));
/** `sshd -T -C user=<user>` as sshd would apply the configuration on disk now. */
const effective = async (config: string, user: string) => (await exec(SSHD, ["-T", "-f", config, "-C", `user=${user},host=x,addr=127.0.0.1,laddr=127.0.0.1,lport=22`])).stdout;

describe("configuration fingerprint", () => {
  it("follows Includes and globs, leaves out the hog's own files, and changes with any included file's content or a file added", async () => {
    const dir = await tempDir("hog-fp");
    await mkdir(join(dir, "d"));
    const main = join(dir, "sshd_config");
    await writeFile(main, `Include ${dir}/d/*.conf\nInclude ${dir}/extra\nPort 22\n`);
    await writeFile(join(dir, "d", "10-admin.conf"), "PasswordAuthentication yes\n");
    await writeFile(join(dir, "extra"), "Match User alice\n\tInclude nested.conf\n");
    const own = new Set([join(dir, "d", `${DROP_IN_NAME}.conf`), join(dir, "run", "sshd.conf")]);
    const fp0 = await configFingerprint(main, own);
    expect(fp0).toMatch(/^[\w-]{43}$/);

    await writeFile(join(dir, "d", `${DROP_IN_NAME}.conf`), "Include anything\n");
    await writeFile(join(dir, "d", ".hidden.conf"), "not matched by the glob\n");
    await writeFile(join(dir, "d", "20-admin.txt"), "not matched by the glob\n");
    expect(await configFingerprint(main, own)).toBe(fp0);

    await writeFile(join(dir, "d", "10-admin.conf"), "PasswordAuthentication no\n");
    const fp1 = await configFingerprint(main, own);
    expect(fp1).not.toBe(fp0);
    await writeFile(join(dir, "d", "30-admin.conf"), "");
    const fp2 = await configFingerprint(main, own);
    expect(fp2).not.toBe(fp1);
    await appendFile(join(dir, "extra"), "\tPasswordAuthentication no\n");
    expect(await configFingerprint(main, own)).not.toBe(fp2);

    // A wildcard in a folder name is not followed: every lock is then checked by sshd.
    await writeFile(main, `Include ${dir}/*/x.conf\n`);
    expect(await configFingerprint(main, own)).toBeUndefined();
  });
});

describe("the stand-in configuration for checking a rule ahead", () => {
  it("names the drop-in folder's files in glob order, with the rule where the drop-in sorts; the rest of the file as it is", async () => {
    const dir = await tempDir("hog-standin");
    const main = join(dir, "sshd_config");
    await writeFile(main, `# admin\nInclude /etc/ssh/early.conf ${dir}/d/*.conf\nPort 22\nMatch User x\n\tPasswordAuthentication no\n`);
    const site = await dropInSite(main);
    const text = standInConfig(site, ["99-z.conf", "10-a.conf", "00-aaa.conf", "x.txt", ".h.conf", `${DROP_IN_NAME}.conf`], "/run/r.conf");
    expect(text).toBe(`# admin\nInclude "/etc/ssh/early.conf" "${dir}/d/00-aaa.conf" "/run/r.conf" "${dir}/d/10-a.conf" "${dir}/d/99-z.conf"\nPort 22\nMatch User x\n\tPasswordAuthentication no\n`);
  });
});

describe("sshd checks a rule shape once per configuration", () => {
  let dir: string;
  let sshd: ChildProcess;
  let c: SshdControl;
  const log = () => readFile(join(dir, "sshd.log"), "utf8");

  beforeAll(async () => {
    requireUnshare(["--mount", "--propagation", "private"]);
    dir = await tempDir("hog-proofs");
    await mkdir(join(dir, "conf.d"));
    await keygen(join(dir, "hk"));
    await writeFile(join(dir, "conf.d", "10-admin.conf"), "PasswordAuthentication yes\n");
    await writeFile(join(dir, "sshd_config"), [`Include ${dir}/conf.d/*.conf`, `Port ${await freePort()}`, "ListenAddress 127.0.0.1", `HostKey ${dir}/hk`, `PidFile ${dir}/sshd.pid`, "UsePAM no", ""].join("\n"));
    const [f, a] = inPrivateRun(SSHD, ["-D", "-f", join(dir, "sshd_config"), "-E", join(dir, "sshd.log")]);
    sshd = spawn(f, a, { stdio: "ignore" });
    for (let i = 0; !(await readFile(join(dir, "sshd.pid"), "utf8").catch(() => "")); i++) {
      if (i > 400 || sshd.exitCode !== null) throw new Error(`sshd did not start: ${await log().catch(() => "")}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    // The privilege separation folder the hog makes when missing: here, not the machine's (sshd gets its own, above).
    c = { sshdPath: SSHD, sshdConfig: join(dir, "sshd_config"), runDir: join(dir, "run"), privsepDir: join(dir, "privsep"), exec, proofs: new SshdProofs() };
  });
  afterAll(async () => {
    sshd?.kill("SIGTERM");
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Locks, waits until sshd listens again; returns which sshd processes the lock started. */
  const lock = async (allowed: string[], probe: string) => {
    sshdCalls.length = 0;
    const l = await lockSshd(c, allowed, probe);
    await l.inForce;
    return { ...l, calls: sshdCalls.map((a) => a[0]) };
  };

  it("the first lock asks sshd (-t ×2, -T -C) and reloads it; the rule is in force for the probe and not for the allowed", async () => {
    const l = await lock(["root", "bob"], "alice");
    expect(l).toMatchObject({ reloaded: true, checked: true, calls: ["-t", "-t", "-T"] });
    expect(ruleInForce(await effective(c.sshdConfig, "alice"), `${c.runDir}/keys`)).toEqual([]);
    expect(ruleInForce(await effective(c.sshdConfig, "bob"), `${c.runDir}/keys`)).not.toEqual([]);
    expect((await log()).match(/Received SIGHUP; restarting\./g)).toHaveLength(1);
    await unlockSshd(c, l.dropIn);
    expect((await log()).match(/Received SIGHUP; restarting\./g)).toHaveLength(2);
  });

  it("a lock whose rule differs only in the allowed names starts no sshd process, still installs the new names and reloads sshd", async () => {
    const l = await lock(["root", "carol"], "alice");
    expect(l).toMatchObject({ reloaded: true, checked: false, calls: [] });
    expect(await readFile(rulePath(c), "utf8")).toContain("Match User *,!carol,!root\n");
    expect(ruleInForce(await effective(c.sshdConfig, "alice"), `${c.runDir}/keys`)).toEqual([]);
    expect(ruleInForce(await effective(c.sshdConfig, "carol"), `${c.runDir}/keys`)).not.toEqual([]);
    expect((await log()).match(/Received SIGHUP; restarting\./g)).toHaveLength(3);
    await unlockSshd(c, l.dropIn);
  });

  it("an unlock after a proven lock starts no sshd process: the rule is removed, sshd reloaded and running without it", async () => {
    const l = await lock(["root", "carol"], "alice");
    expect(l.calls).toEqual([]);
    const restarts = (await log()).match(/Received SIGHUP; restarting\./g)!.length;
    sshdCalls.length = 0;
    expect(await unlockSshd(c, l.dropIn)).toEqual({ removed: true });
    expect(sshdCalls).toEqual([]);
    expect((await log()).match(/Received SIGHUP; restarting\./g)).toHaveLength(restarts + 1);
    expect(await readdir(join(dir, "conf.d"))).toEqual(["10-admin.conf"]);
    expect(ruleInForce(await effective(c.sshdConfig, "alice"), `${c.runDir}/keys`)).not.toEqual([]);
  });

  it("an unlock after the admin edited the configuration while locked asks sshd (-t, -T) before reloading it", async () => {
    const l = await lock(["root", "carol"], "alice");
    expect(l.calls).toEqual([]);
    const admin = join(dir, "conf.d", "10-admin.conf");
    const before = await readFile(admin, "utf8");
    await writeFile(admin, "PasswordAuthentication no\n");
    try {
      sshdCalls.length = 0;
      await unlockSshd(c, l.dropIn);
      expect(sshdCalls.map((a) => a[0])).toEqual(["-t", "-T"]);
      // Broken by the admin while locked: the unlock removes the rule but does not reload an sshd that would stop.
      const again = await lock(["root", "carol"], "alice");
      await writeFile(admin, "NoSuchOption yes\n");
      sshdCalls.length = 0;
      await expect(unlockSshd(c, again.dropIn)).rejects.toThrow(/sshd -t -f .* rejects the configuration: .*NoSuchOption/);
      expect(sshdCalls.map((a) => a[0])).toEqual(["-t"]);
    } finally {
      await writeFile(admin, before);
    }
  });

  it("another shape (more names) or another probe user is asked of sshd again", async () => {
    const more = await lock(["root", "bob", "carol"], "alice");
    expect(more).toMatchObject({ checked: true, calls: ["-t", "-t", "-T"] });
    await unlockSshd(c, more.dropIn);
    const probe = await lock(["root", "bob"], "dave");
    expect(probe).toMatchObject({ checked: true, calls: ["-t", "-t", "-T"] });
    await unlockSshd(c, probe.dropIn);
  });

  it("a host key replaced since: sshd is asked again", async () => {
    await rm(join(dir, "hk"));
    await rm(join(dir, "hk.pub"));
    await keygen(join(dir, "hk"));
    const l = await lock(["root", "erin"], "alice");
    expect(l).toMatchObject({ checked: true, calls: ["-t", "-t", "-T"] });
    await unlockSshd(c, l.dropIn);
  });

  it("checked ahead (nothing installed, sshd not reloaded): the lock of that rule then starts no sshd process", async () => {
    const ahead: SshdControl = { ...c, proofs: new SshdProofs() };
    const restarts = (await log()).match(/Received SIGHUP; restarting\./g)!.length;
    sshdCalls.length = 0;
    expect(await proveRule(ahead, ["root", "gina"], "alice")).toBe(true);
    expect(sshdCalls.map((a) => a[0])).toEqual(["-t", "-T"]);
    expect(await readdir(join(dir, "conf.d"))).toEqual(["10-admin.conf"]);
    expect((await readdir(c.runDir)).filter((f) => f.endsWith(".conf") || f.includes("ahead"))).toEqual([]);
    expect((await log()).match(/Received SIGHUP; restarting\./g)).toHaveLength(restarts);
    sshdCalls.length = 0;
    const l = await lockSshd(ahead, ["root", "gina"], "alice");
    await l.inForce;
    expect(l).toMatchObject({ reloaded: true, checked: false });
    expect(sshdCalls).toEqual([]);
    expect(ruleInForce(await effective(c.sshdConfig, "alice"), `${c.runDir}/keys`)).toEqual([]);
    await unlockSshd(ahead, l.dropIn);
  });

  it("checked ahead, an admin's Match block before the drop-in folder that overrides the rule: nothing proven, the lock asks sshd and refuses", async () => {
    const ahead: SshdControl = { ...c, proofs: new SshdProofs() };
    const main = await readFile(c.sshdConfig, "utf8");
    await writeFile(join(dir, "early.conf"), "Match User alice\n\tAuthenticationMethods password\n");
    await writeFile(c.sshdConfig, `Include ${dir}/early.conf\n${main}`);
    try {
      expect(await proveRule(ahead, ["root", "gina"], "alice")).toBe(false);
      sshdCalls.length = 0;
      await expect(lockSshd(ahead, ["root", "gina"], "alice")).rejects.toThrow(/the hog's rule is not in force for alice .*authenticationmethods is "password", not "publickey"/);
      expect(sshdCalls.map((a) => a[0])).toEqual(["-t", "-t", "-T"]);
      expect(await readdir(join(dir, "conf.d"))).toEqual(["10-admin.conf"]);
    } finally {
      await writeFile(c.sshdConfig, main);
    }
  });

  it("an admin's edit that sshd -t rejects: the next lock of a proven shape asks sshd, refuses, and installs nothing", async () => {
    await writeFile(join(dir, "conf.d", "10-admin.conf"), "PasswordAuthentication yes\nNoSuchOption yes\n");
    await expect(lock(["root", "frank"], "alice")).rejects.toThrow(/sshd -t -f .* rejects the configuration: .*NoSuchOption/);
    expect(sshdCalls.map((a) => a[0])).toEqual(["-t"]);
    expect(await readdir(join(dir, "conf.d"))).toEqual(["10-admin.conf"]);
    expect(await readFile(rulePath(c), "utf8").catch(() => "absent")).toBe("absent");
  });

  it("on a host whose sshd never ran since boot (no /run/sshd) the lock makes the folder as sshd's unit would, and sshd's checks pass", async () => {
    // sshd's /run/sshd is c.privsepDir itself, bound in its private namespace: it exists for sshd only if the hog made it.
    await writeFile(join(dir, "conf.d", "10-admin.conf"), "PasswordAuthentication yes\n");
    const privsepDir = join(dir, "boot", "sshd");
    const fresh: SshdControl = { ...c, exec: privateRunExecFor(SSHD, { privsep: privsepDir }), privsepDir, proofs: new SshdProofs() };
    const l = await lockSshd(fresh, ["root"], "alice");
    await l.inForce;
    expect(l).toMatchObject({ reloaded: true, checked: true });
    const st = await stat(fresh.privsepDir);
    expect(st.isDirectory() && (st.mode & 0o7777).toString(8)).toBe("755");
    expect(ruleInForce(await effective(c.sshdConfig, "alice"), `${c.runDir}/keys`)).toEqual([]);
    await unlockSshd(fresh, l.dropIn);
  });

  describe("with no sshd running", () => {
    // A host where sshd has not started (socket activation before the first login) or was stopped. The "sshd
    // binary" here is a copy of socat under a path of this test's own: the kernel names a process by its binary,
    // so whether one listens is decided for real, and no other sshd on this machine can be mistaken for it.
    // Its checks (sshd -t, -T) run the REAL sshd, in a private namespace as above.
    let idle: SshdControl;
    let fake: string;
    beforeAll(async () => {
      const d = join(dir, "idle");
      await mkdir(join(d, "conf.d"), { recursive: true });
      await writeFile(join(d, "sshd_config"), [`Include ${d}/conf.d/*.conf`, `Port ${await freePort()}`, "ListenAddress 127.0.0.1", `HostKey ${dir}/hk`, `PidFile ${d}/sshd.pid`, "UsePAM no", ""].join("\n"));
      fake = join(d, "sshd");
      await copyFile("/usr/bin/socat", fake);
      await chmod(fake, 0o755);
      const viaRealSshd: ExecFn = (file, args, opts) => exec(file === fake ? SSHD : file, args, opts);
      idle = { sshdPath: fake, sshdConfig: join(d, "sshd_config"), runDir: join(d, "run"), privsepDir: join(d, "privsep"), exec: viaRealSshd, proofs: new SshdProofs() };
    });

    it("none listening: the rule is installed and in force for the next sshd, nothing is reloaded, and the lock says so", async () => {
      expect(sshdListeners(fake)).toEqual([]);
      const l = await lockSshd(idle, ["root"], "alice");
      await l.inForce;
      expect(l).toMatchObject({ reloaded: false, idle: true, checked: true });
      expect(ruleInForce(await effective(idle.sshdConfig, "alice"), `${idle.runDir}/keys`)).toEqual([]);
      await unlockSshd(idle, l.dropIn);
      expect(ruleInForce(await effective(idle.sshdConfig, "alice"), `${idle.runDir}/keys`)).not.toEqual([]);
    });

    it("one listening that is not the pid file's: the lock fails, naming it, and takes nothing for granted", async () => {
      const port = await freePort();
      const listener = spawn(fake, [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, "SYSTEM:true"], { stdio: "ignore" });
      try {
        let pids: number[] = [];
        for (let i = 0; i < 200 && !pids.length; i++) pids = (await new Promise((r) => setTimeout(r, 25)), sshdListeners(fake));
        expect(pids).toEqual([listener.pid]);
        await expect(lockSshd(idle, ["root"], "alice")).rejects.toThrow(new RegExp(`no running sshd in .*sshd\\.pid, yet .* listens as pid ${listener.pid}`));
      } finally {
        listener.kill("SIGKILL");
        await unlockSshd(idle);
      }
    });
  });
});

describe("waiting for a reloaded sshd", () => {
  it("a daemon that does not write its pid file again is still seen back once it listens anew (the kernel's socket table, after a second)", async () => {
    const dir = await tempDir("hog-hup");
    // Stands in for a patched sshd: on SIGHUP it closes its listener and opens another, and leaves its pid file alone.
    const script = [
      "import os, signal, socket, sys, time",
      "def listen():",
      "    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 0)); s.listen(); return s",
      "cur = [listen()]",
      "def hup(*_):",
      "    cur[0].close(); time.sleep(0.2); cur[0] = listen()",
      "signal.signal(signal.SIGHUP, hup)",
      "open(sys.argv[1], 'w').write(str(os.getpid()))",
      "while True: signal.pause()",
    ].join("\n");
    const pidFile = join(dir, "daemon.pid");
    const daemon = spawn("python3", ["-c", script, pidFile], { stdio: "ignore" });
    try {
      for (let i = 0; !(await readFile(pidFile, "utf8").catch(() => "")); i++) {
        if (i > 400) throw new Error("the daemon did not start");
        await new Promise((r) => setTimeout(r, 25));
      }
      const pidBefore = await readFile(pidFile, "utf8");
      const c: SshdControl = { sshdPath: SSHD, sshdConfig: join(dir, "sshd_config"), runDir: join(dir, "run"), privsepDir: join(dir, "privsep"), exec: async () => ({ stdout: `port 22\npidfile ${pidFile}\n`, stderr: "" }) };
      await reloadSshd(c);
      expect(await readFile(pidFile, "utf8")).toBe(pidBefore);
      expect(daemon.exitCode).toBeNull();
    } finally {
      daemon.kill("SIGKILL");
    }
  });
});
