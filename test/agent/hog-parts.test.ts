import { execFileSync } from "node:child_process";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expandPattern, keyPart, restrictedLine, splitPatterns, sshdAuthorizedKeysPatterns } from "../../edge-agent/drivers/hog/index.ts";
import { SshdPatterns } from "../../edge-agent/drivers/hog/authorized-keys-file.ts";
import { writeManagedKeys } from "../../edge-agent/drivers/hog/managed-keys.ts";
import { execFileArgs, type ExecFn } from "../../edge-agent/drivers/deps.ts";
import { dropInPath, dropInText, MARKER, ruleInForce, ruleText } from "../../edge-agent/drivers/hog/sshd-rule.ts";
import { endSessions, liveProcesses } from "../../edge-agent/drivers/hog/sessions.ts";
import { tempDir } from "../services/process.ts";
import { requireUnshare } from "../netns/namespace.ts";
import { inPrivateRun } from "./private-run.ts";

/** sshd -t/-T need their privilege separation folder /run/sshd: a private one, in a private mount namespace, never the machine's. */
const privateRunExec: ExecFn = (file, args, o) => execFileArgs(...inPrivateRun(file, args), o);

describe("AuthorizedKeysFile resolution", () => {
  const u = { name: "alice", home: "/home/alice" };
  it("expands %h %u %% and makes relative paths relative to home", () => {
    expect(expandPattern(".ssh/authorized_keys", u)).toBe("/home/alice/.ssh/authorized_keys");
    expect(expandPattern("%h/.ssh/keys", u)).toBe("/home/alice/.ssh/keys");
    expect(expandPattern("/etc/ssh/keys/%u", u)).toBe("/etc/ssh/keys/alice");
    expect(expandPattern("/srv/100%%/%u.keys", u)).toBe("/srv/100%/alice.keys");
    expect(() => expandPattern("/x/%q", u)).toThrow(/unsupported token %q/);
    expect(expandPattern("/etc/keys/%U", { ...u, uid: 1001 })).toBe("/etc/keys/1001");
    // Never a path with the uid left out (/etc/keys/ would be a folder anyone's keys could be read from).
    expect(() => expandPattern("/etc/keys/%U", u)).toThrow(/unsupported token %U/);
    expect(splitPatterns(".ssh/authorized_keys   /etc/ssh/keys/%u")).toEqual([".ssh/authorized_keys", "/etc/ssh/keys/%u"]);
    expect(splitPatterns("none")).toEqual([]);
  });

  it("asks the REAL sshd (sshd -T) for the effective value, several files included", async () => {
    const dir = await tempDir("sshd-t");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hk")]);
    // A glob Include whose folder also holds a file the glob does not match: only sshd (or a parser that globs as sshd does) gets this right.
    await mkdir(join(dir, "d"));
    await writeFile(join(dir, "d", "00-other.txt"), "AuthorizedKeysFile .ssh/wrong\n");
    await writeFile(join(dir, "d", "10-keys.conf"), "AuthorizedKeysFile .ssh/authorized_keys /etc/labhog/keys/%u\n");
    await writeFile(join(dir, "sshd_config"), `Include ${dir}/d/*.conf\nHostKey ${dir}/hk\n`);
    const calls: string[] = [];
    const asked: ExecFn = async (file, args, o) => {
      const out = await privateRunExec(file, args, o);
      calls.push(file);
      return out;
    };
    expect(await sshdAuthorizedKeysPatterns({ sshdConfig: join(dir, "sshd_config"), sshdPath: "/usr/sbin/sshd" }, asked)).toEqual([".ssh/authorized_keys", "/etc/labhog/keys/%u"]);
    expect(calls).toEqual(["/usr/sbin/sshd"]);
  });

  it("SshdPatterns asks the REAL sshd once per configuration: again only after an included file changed, never keeping a parsed fallback", async () => {
    const dir = await tempDir("sshd-cache");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hk")]);
    await mkdir(join(dir, "conf.d"));
    const own = join(dir, "conf.d", "zz-labhog.conf");
    await writeFile(join(dir, "sshd_config"), `Include ${dir}/conf.d/*.conf\nHostKey ${dir}/hk\n`);
    await writeFile(join(dir, "conf.d", "10-admin.conf"), "AuthorizedKeysFile .ssh/k1\n");
    const calls: string[] = [];
    let sshdPath = "/usr/sbin/sshd";
    const counting: ExecFn = (file, args, o) => (calls.push(file), privateRunExec(file, args, o));
    const opts = { sshdConfig: join(dir, "sshd_config"), get sshdPath() { return sshdPath; } };
    const patterns = new SshdPatterns(opts, counting, async () => new Set([own]));
    expect(await patterns.get()).toEqual([".ssh/k1"]);
    expect(await patterns.get()).toEqual([".ssh/k1"]);
    expect(calls).toEqual(["/usr/sbin/sshd"]);
    // The hog's own drop-in (a Match block) is left out: no new question.
    await writeFile(own, "Match User *,!root\n\tAuthenticationMethods publickey\n");
    expect(await patterns.get()).toEqual([".ssh/k1"]);
    expect(calls).toHaveLength(1);
    await writeFile(join(dir, "conf.d", "10-admin.conf"), "AuthorizedKeysFile .ssh/k2 /etc/keys/%u\n");
    expect(await patterns.get()).toEqual([".ssh/k2", "/etc/keys/%u"]);
    expect(calls).toHaveLength(2);
    // sshd cannot run: parsed (the first value before any Match), and sshd is asked again next time.
    sshdPath = join(dir, "no-such-sshd");
    await writeFile(join(dir, "sshd_config"), `HostKey ${dir}/hk\nAuthorizedKeysFile .ssh/parsed\n`);
    expect(await patterns.get()).toEqual([".ssh/parsed"]);
    expect(await patterns.get()).toEqual([".ssh/parsed"]);
    expect(calls).toHaveLength(4);
  });

  it("falls back to parsing sshd_config (first value wins, Match blocks ignored) when sshd -T cannot run", async () => {
    const dir = await tempDir("sshd-p");
    await writeFile(join(dir, "sshd_config"), "# c\nPort 22\nAuthorizedKeysFile=%h/.ssh/k1 %h/.ssh/k2\nAuthorizedKeysFile other\nMatch User bob\n  AuthorizedKeysFile /x\n");
    expect(await sshdAuthorizedKeysPatterns({ sshdConfig: join(dir, "sshd_config"), sshdPath: join(dir, "no-such-sshd") }, execFileArgs)).toEqual(["%h/.ssh/k1", "%h/.ssh/k2"]);
    // Includes are followed, globs too, in sshd's order (lexical), relative ones from /etc/ssh; a Match ends the search.
    await mkdir(join(dir, "conf.d"));
    await writeFile(join(dir, "conf.d", "20-b.conf"), "AuthorizedKeysFile .ssh/from-b\n");
    await writeFile(join(dir, "conf.d", "10-a.conf"), "# nothing set here\nPort 2222\n");
    await writeFile(join(dir, "conf.d", "05-x.disabled"), "AuthorizedKeysFile .ssh/not-included\n");
    await writeFile(join(dir, "inc"), `Port 22\nInclude ${dir}/conf.d/*.conf\nAuthorizedKeysFile .ssh/later\n`);
    expect(await sshdAuthorizedKeysPatterns({ sshdConfig: join(dir, "inc"), sshdPath: join(dir, "no-such-sshd") }, execFileArgs)).toEqual([".ssh/from-b"]);
    await writeFile(join(dir, "matched"), `Match User bob\n  Include ${dir}/conf.d/*.conf\n`);
    expect(await sshdAuthorizedKeysPatterns({ sshdConfig: join(dir, "matched"), sshdPath: join(dir, "no-such-sshd") }, execFileArgs)).toEqual([".ssh/authorized_keys", ".ssh/authorized_keys2"]);
    await writeFile(join(dir, "empty"), "Port 22\n");
    expect(await sshdAuthorizedKeysPatterns({ sshdConfig: join(dir, "empty"), sshdPath: join(dir, "no-such-sshd") }, execFileArgs)).toEqual([".ssh/authorized_keys", ".ssh/authorized_keys2"]);
  });
});

describe("the locked users' keys files", () => {
  it("one file per user with keys, restricted to the status command; none for a user without keys; every other file removed", async () => {
    const dir = join(await tempDir("managed-keys"), "keys");
    await mkdir(dir);
    await writeFile(join(dir, "gone"), "ssh-ed25519 AAAAold gone@x\n");
    await writeFile(join(dir, "daemon"), "ssh-ed25519 AAAAstale daemon@x\n");
    writeManagedKeys(dir, new Map([["alice", ["ssh-ed25519 AAAAa1", "ssh-ed25519 AAAAa2"]], ["daemon", []]]), "labhog status");
    expect((await readdir(dir)).sort()).toEqual(["alice"]);
    expect(await readFile(join(dir, "alice"), "utf8")).toBe(`${restrictedLine("ssh-ed25519 AAAAa1", "labhog status")}\n${restrictedLine("ssh-ed25519 AAAAa2", "labhog status")}\n`);
  });
});

describe("authorized_keys lines", () => {
  const k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2 alice@laptop";
  it("finds the key behind options, quoted spaces and commas included; drops comments and junk", () => {
    expect(keyPart(k)).toBe(k);
    expect(keyPart(`from="10.0.0.1,10.0.0.2",command="echo a b" ${k}`)).toBe(k);
    expect(keyPart(`no-pty,environment="X=a \\" b" ${k}`)).toBe(k);
    expect(keyPart("# comment")).toBeUndefined();
    expect(keyPart("")).toBeUndefined();
    expect(keyPart("garbage here")).toBeUndefined();
  });
  it("restricts a key to the status command", () => {
    expect(restrictedLine(k, "labhog status")).toBe(`restrict,command="labhog status" ${k}`);
  });
});

describe("a restricted file is accepted by the REAL sshd's parser", () => {
  it("ssh-keygen -l reads every line", async () => {
    const dir = await tempDir("keys");
    await mkdir(dir, { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "a@b", "-f", join(dir, "k")]);
    const pub = (await readFile(join(dir, "k.pub"), "utf8")).trim();
    await writeFile(join(dir, "ak"), restrictedLine(keyPart(`from="127.0.0.1" ${pub}`)!, "labhog status --file /var/lib/labhog/status.json") + "\n");
    expect(execFileSync("ssh-keygen", ["-l", "-f", join(dir, "ak")]).toString()).toMatch(/ED25519/);
  });
});

describe("the sshd rule (text and where it goes)", () => {
  it("goes next to the main config's first Include glob before any Match; without one the hog refuses with what to add", async () => {
    const dir = await tempDir("sshd-inc");
    const main = join(dir, "sshd_config");
    await writeFile(main, `Port 22\nInclude ${dir}/conf.d/*.conf\nInclude /other/*.conf\n`);
    expect(await dropInPath(main)).toBe(`${dir}/conf.d/00-labhog-hog.conf`);
    await writeFile(main, `Include "sshd_config.d/*"\n`);
    expect(await dropInPath(main)).toBe("/etc/ssh/sshd_config.d/00-labhog-hog");
    await writeFile(main, `Include /etc/ssh/one-file.conf\nMatch User x\n  Include /etc/ssh/sshd_config.d/*.conf\n`);
    await expect(dropInPath(main)).rejects.toThrow(/has no Include of a drop-in folder before its first Match block.*add "Include \/etc\/ssh\/sshd_config\.d\/\*\.conf" as its first line/);
  });

  it("the Match spares exactly the allowed logins and refuses names that could break out of the line", () => {
    expect(ruleText(["root", "bob", "dave", "bob"], "/run/labhog/hog/keys")).toBe(`${MARKER}\nMatch User *,!bob,!dave,!root\n\tAuthenticationMethods publickey\n\tAuthorizedKeysFile /run/labhog/hog/keys/%u\n\tAuthorizedKeysCommand none\n\tTrustedUserCAKeys none\n\tAuthorizedPrincipalsCommand none\n`);
    expect(() => ruleText(["bob\nMatch all"], "/run/k")).toThrow(/not a login name/);
    expect(() => ruleText(["bob"], "/run/my keys")).toThrow(/may not contain spaces/);
  });

  it("the REAL sshd accepts it, applies it to everyone else, and not to the allowed (sshd -t, sshd -T -C)", async () => {
    requireUnshare(["--mount", "--propagation", "private"]);
    const dir = await tempDir("sshd-rule");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hk")]);
    await mkdir(join(dir, "conf.d"), { recursive: true });
    await writeFile(join(dir, "rule.conf"), ruleText(["root", "bob"], "/run/labhog/hog/keys"));
    await writeFile(join(dir, "conf.d", "00-labhog-hog.conf"), dropInText(join(dir, "rule.conf")));
    await writeFile(join(dir, "sshd_config"), `Include ${dir}/conf.d/*.conf\nHostKey ${dir}/hk\nUsePAM yes\nPasswordAuthentication yes\nAuthorizedKeysFile .ssh/authorized_keys\n`);
    // sshd -t/-T need their privilege separation folder /run/sshd: made in a private mount namespace, not on the machine.
    const sshd = (args: string[]) => execFileSync(...inPrivateRun("/usr/sbin/sshd", args)).toString();
    const T = (user: string) => sshd(["-T", "-f", join(dir, "sshd_config"), "-C", `user=${user},host=h,addr=127.0.0.1`]);
    sshd(["-t", "-f", join(dir, "sshd_config")]);
    expect(ruleInForce(T("alice"), "/run/labhog/hog/keys")).toEqual([]);
    expect(ruleInForce(T("bob"), "/run/labhog/hog/keys")).toEqual(['authenticationmethods is "any", not "publickey"', 'authorizedkeysfile is ".ssh/authorized_keys", not "/run/labhog/hog/keys/%u"']);
    // The /run file gone (a reboot): the drop-in's Include matches nothing and sshd is as before.
    await rm(join(dir, "rule.conf"));
    sshd(["-t", "-f", join(dir, "sshd_config")]);
    expect(ruleInForce(T("alice"), "/run/labhog/hog/keys")).toEqual(['authenticationmethods is "any", not "publickey"', 'authorizedkeysfile is ".ssh/authorized_keys", not "/run/labhog/hog/keys/%u"']);
  });
});

describe("ending sessions", () => {
  /** A ps/pkill stand-in: `live` processes survive every signal; `zombies` are listed but dead. */
  const fakeExec = (live: string[], zombies: string[] = []): { exec: ExecFn; calls: string[][] } => {
    const calls: string[][] = [];
    const exec: ExecFn = async (file, args) => {
      calls.push([file, ...args]);
      if (file === "ps") {
        const rows = [...live.map((p) => `${p} S bash`), ...zombies.map((p) => `${p} Z sshd`)];
        if (!rows.length) throw Object.assign(new Error("ps: no process"), { code: 1 });
        return { stdout: rows.join("\n") + "\n", stderr: "" };
      }
      return { stdout: "", stderr: "" };
    };
    return { exec, calls };
  };

  it("zombies (dead, not yet reaped) do not count as a session left running", async () => {
    expect(await liveProcesses(fakeExec([], ["115", "129"]).exec, "alice")).toEqual([]);
    expect(await liveProcesses(fakeExec(["340"], ["115"]).exec, "alice")).toEqual(["340 bash"]);
    const { exec, calls } = fakeExec([], ["115"]);
    await endSessions(exec, "alice", 0);
    expect(calls.filter((c) => c[0] === "pkill")).toEqual([["pkill", "-TERM", "-u", "alice"]]);
  });

  it("processes that survive SIGTERM get SIGKILL; survivors of that are a failure, named, never assumed gone", async () => {
    const { exec, calls } = fakeExec(["340"]);
    await expect(endSessions(exec, "alice", 0)).rejects.toThrow("processes of alice still run after SIGTERM and SIGKILL: 340 bash");
    expect(calls.filter((c) => c[0] === "pkill")).toEqual([["pkill", "-TERM", "-u", "alice"], ["pkill", "-KILL", "-u", "alice"]]);
  });

  it("a ps that cannot run is a failure, not \"no processes\"", async () => {
    const exec: ExecFn = async () => { throw Object.assign(new Error("ps: not found"), { code: "ENOENT" }); };
    await expect(liveProcesses(exec, "alice")).rejects.toThrow("ps: not found");
  });
});
