import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { Agent, type TimedEvent } from "../../edge-agent/agent/agent.ts";
import { loadAgentConfig } from "../../edge-agent/config/agent-config.ts";
import { createLogger } from "../../edge-agent/log.ts";
import { startMosquitto } from "../services/mosquitto.ts";
import { tempDir } from "../services/process.ts";
import { agentYaml, entry, listen, schedule, sign, testKey } from "./helpers.ts";

const run = promisify(execFile);
const bin = resolve(import.meta.dirname, "../../edge-agent/bin/labhog.mjs");
const labhog = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, [bin, ...args], { env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: any) => ({ code: e.code as number, stdout: String(e.stdout), stderr: String(e.stderr) }),
  );

/** A small fake system: passwd file and homes under a temp dir (read only by the hog in simulate mode). */
async function fakeSystem(dir: string) {
  const homes = join(dir, "home");
  const passwd = [`root:x:0:0:root:${homes}/root:/bin/bash`, `alice:x:1001:1001::${homes}/alice:/bin/bash`, `bob:x:1002:1002::${homes}/bob:/bin/bash`, `svc:x:999:999::${homes}/svc:/usr/sbin/nologin`, `ops:x:1003:1003::${homes}/ops:/bin/bash`];
  for (const u of ["root", "alice", "bob", "svc", "ops"]) {
    await mkdir(join(homes, u, ".ssh"), { recursive: true });
    await writeFile(join(homes, u, ".ssh", "authorized_keys"), `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${u} ${u}@x\n`);
  }
  await writeFile(join(dir, "passwd"), passwd.join("\n") + "\n");
  return `hog: { passwdFile: ${join(dir, "passwd")}, authorizedKeysFile: ".ssh/authorized_keys", admins: [ops], stopUnits: [docker.service], sessionGrace: 1s }`;
}

describe("--simulate", () => {
  it("every driver dry-runs: reports the mounts and units it would touch, mounts nothing", async () => {
    const broker = await startMosquitto();
    const dir = await tempDir("agent-sim");
    const key = await testKey("k");
    const hog = await fakeSystem(dir);
    const cfgPath = join(dir, "agent.yaml");
    await writeFile(cfgPath, agentYaml({ brokerUrl: broker.url, stateDir: join(dir, "state"), publicJwk: key.publicJwk, kid: key.kid, extra: `${hog}\nnotify: { motd: ${join(dir, "motd")} }` }).replace("hog: false", "hog: true"));
    const mountsBefore = await readFile("/proc/self/mountinfo", "utf8");
    const events: TimedEvent[] = [];
    const agent = new Agent({ config: await loadAgentConfig(cfgPath), simulate: true, log: createLogger({ level: "error" }), modules: {}, onEvent: (e) => events.push(e) });
    await agent.start();
    const ev = await listen(broker.url, "labhog/lab/agents/host1/events");
    const pub = await mqtt.connectAsync(broker.url);
    await pub.publishAsync("labhog/lab/resources/host1/schedule", await sign(schedule("host1", 1, [entry({ id: "r1", start: new Date(Date.now() - 1000), end: new Date(Date.now() + 3600_000), holder: { id: "bob", unix: ["bob"] } })]), key), { qos: 1 });
    await ev.waitFor((b) => b.action === "enforced" && b.reservation === "r1");
    const would = events.filter((e) => e.action === "would-run").map((e) => e.message);
    expect(would).toContain(`mount --bind ${join(dir, "state", "hog", "alice.0.keys")} ${join(dir, "home", "alice", ".ssh", "authorized_keys")}`);
    expect(would).toContain("systemctl stop docker.service");
    expect(would.some((m) => /root|ops|svc|\/bob\//.test(m ?? ""))).toBe(false); // root, admin, no-login and the holder (no extra keys) untouched
    expect(events.some((e) => e.action === "would-notify" && /held by bob/.test(e.message ?? ""))).toBe(true);
    expect(events.some((e) => e.action === "would-write-motd")).toBe(true);
    // published on MQTT too
    await ev.waitFor((b) => b.action === "would-run" && /^mount --bind/.test(b.message));
    expect(await readFile("/proc/self/mountinfo", "utf8")).toBe(mountsBefore);
    await expect(readFile(join(dir, "motd"))).rejects.toThrow(/ENOENT/);
    await ev.client.endAsync();
    await pub.endAsync();
    await agent.stop();
    await broker.stop();
  }, 30_000);
});

describe("labhog CLI", () => {
  it("agent --check validates and prints what would be done", async () => {
    const dir = await tempDir("cli-check");
    const key = await testKey("k");
    const hog = await fakeSystem(dir);
    await writeFile(join(dir, "agent.yaml"), agentYaml({ brokerUrl: "mqtts://broker.example:8883", stateDir: join(dir, "state"), publicJwk: key.publicJwk, kid: key.kid, extra: hog }).replace("hog: false", "hog: true"));
    const r = await labhog(["agent", "--config", join(dir, "agent.yaml"), "--check"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("valid");
    expect(r.stdout).toContain("resource host1 (host): subscribe labhog/lab/resources/host1/schedule; drivers: hog, notify");
    expect(r.stdout).toMatch(/locked keys run: labhog status --file .*\/state\/status\.json/);
    expect(r.stdout).toContain("never locked out: root, ops");
  });

  it("an invalid config: exit 3, one line naming the file and the fields", async () => {
    const dir = await tempDir("cli-bad");
    await writeFile(join(dir, "agent.yaml"), "agent: host1\nsite: lab\nbroker: { url: http://x }\ntrustedKeys: { k: { kty: OKP, crv: Ed25519, x: a, d: secret } }\nresources: [ { id: h, hog: maybe } ]\nonScheduleExpiry: forever\n");
    const r = await labhog(["agent", "--config", join(dir, "agent.yaml"), "--check"]);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`${join(dir, "agent.yaml")}: broker.url: broker url must start with mqtt://`);
    expect(r.stderr).toContain("trustedKeys.k: this is a PRIVATE key");
    expect(r.stderr).toContain("resources[0].hog:");
    expect(r.stderr).toContain("onScheduleExpiry:");
  });

  it("usage errors exit 2; a missing file exits 3", async () => {
    expect((await labhog(["frobnicate"])).code).toBe(2);
    expect((await labhog(["agent", "--nope"])).code).toBe(2);
    const r = await labhog(["agent", "--config", "/nonexistent/agent.yaml"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe("labhog agent: /nonexistent/agent.yaml: cannot read: ENOENT\n");
  });

  it("status prints who holds the host until when, from the summary file", async () => {
    const dir = await tempDir("cli-status");
    await writeFile(join(dir, "status.json"), JSON.stringify({ agent: "host1", site: "lab", statusUrl: "https://lab.example/status", updatedAt: "2026-11-26T10:00:00.000Z", resources: [{ id: "host1", served: true, holder: { id: "bob", unix: ["bob"] }, reservation: "r", start: "2026-11-26T09:00:00.000Z", end: "2026-11-26T12:00:00.000Z", exclusive: true, upcoming: [{ holder: "carol", start: "2026-11-26T13:00:00.000Z", end: "2026-11-26T14:00:00.000Z", exclusive: true }] }] }));
    const r = await labhog(["status", "--file", join(dir, "status.json")], { USER: "alice" });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("host1 is held by bob (bob) until 2026-11-26 12:00 UTC.\nSSH logins of other users only show this message until the reservation ends.\n  next: carol 2026-11-26 13:00 UTC – 2026-11-26 14:00 UTC\nSchedule and booking: https://lab.example/status\n(agent host1, updated 2026-11-26 10:00 UTC)\n");
    expect((await labhog(["status", "--file", join(dir, "status.json")], { USER: "bob" })).stdout).toContain("— that is you");
  });
});
