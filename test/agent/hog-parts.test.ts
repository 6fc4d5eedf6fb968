import { execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expandPattern, keyPart, restrictedLine, splitPatterns, sshdAuthorizedKeysPatterns } from "../../edge-agent/drivers/hog/index.ts";
import { execFileArgs } from "../../edge-agent/drivers/deps.ts";
import { tempDir } from "../services/process.ts";

describe("AuthorizedKeysFile resolution", () => {
  const u = { name: "alice", home: "/home/alice" };
  it("expands %h %u %% and makes relative paths relative to home", () => {
    expect(expandPattern(".ssh/authorized_keys", u)).toBe("/home/alice/.ssh/authorized_keys");
    expect(expandPattern("%h/.ssh/keys", u)).toBe("/home/alice/.ssh/keys");
    expect(expandPattern("/etc/ssh/keys/%u", u)).toBe("/etc/ssh/keys/alice");
    expect(expandPattern("/srv/100%%/%u.keys", u)).toBe("/srv/100%/alice.keys");
    expect(() => expandPattern("/x/%q", u)).toThrow(/unsupported token %q/);
    expect(splitPatterns(".ssh/authorized_keys   /etc/ssh/keys/%u")).toEqual([".ssh/authorized_keys", "/etc/ssh/keys/%u"]);
    expect(splitPatterns("none")).toEqual([]);
  });

  it("asks the REAL sshd (sshd -T) for the effective value, several files included", async () => {
    const dir = await tempDir("sshd-t");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hk")]);
    await writeFile(join(dir, "sshd_config"), `HostKey ${dir}/hk\nAuthorizedKeysFile .ssh/authorized_keys /etc/labhog/keys/%u\n`);
    expect(await sshdAuthorizedKeysPatterns({ sshdConfig: join(dir, "sshd_config"), sshdPath: "/usr/sbin/sshd" }, execFileArgs)).toEqual([".ssh/authorized_keys", "/etc/labhog/keys/%u"]);
  });

  it("falls back to parsing sshd_config (first value wins, Match blocks ignored) when sshd -T cannot run", async () => {
    const dir = await tempDir("sshd-p");
    await writeFile(join(dir, "sshd_config"), "# c\nPort 22\nAuthorizedKeysFile=%h/.ssh/k1 %h/.ssh/k2\nAuthorizedKeysFile other\nMatch User bob\n  AuthorizedKeysFile /x\n");
    expect(await sshdAuthorizedKeysPatterns({ sshdConfig: join(dir, "sshd_config"), sshdPath: join(dir, "no-such-sshd") }, execFileArgs)).toEqual(["%h/.ssh/k1", "%h/.ssh/k2"]);
    await writeFile(join(dir, "empty"), "Port 22\n");
    expect(await sshdAuthorizedKeysPatterns({ sshdConfig: join(dir, "empty"), sshdPath: join(dir, "no-such-sshd") }, execFileArgs)).toEqual([".ssh/authorized_keys", ".ssh/authorized_keys2"]);
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
