import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import mqtt from "mqtt";
import { afterAll, describe, expect, it } from "vitest";
import { startMosquittoWithPasswords } from "./mosquitto-auth.ts";
import { freePort, startAndWait, tempDir, type Service } from "../services/process.ts";
import { agentYaml, entry, listen, schedule, sign, testKey } from "./helpers.ts";

/**
 * The agent's broker connection, with the real `labhog agent` process:
 * own credentials (passwordFile) over WebSocket, retained online / offline
 * as last will after kill -9, resubscription after a broker restart, and
 * mqtts with a private CA.
 */
const bin = resolve(import.meta.dirname, "../../edge-agent/bin/labhog.mjs");
const children: ChildProcess[] = [];
afterAll(() => { for (const c of children) c.kill("SIGKILL"); });

function startAgentProcess(cfg: string): ChildProcess {
  const c = spawn(process.execPath, [bin, "agent", "--config", cfg], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(c);
  return c;
}

describe("broker connection", () => {
  it("WebSocket + own credentials; online retained; offline as last will on kill -9; resubscribes after a broker restart", async () => {
    const broker = await startMosquittoWithPasswords({ "agent-host1": "s3cret", watcher: "w" });
    const dir = await tempDir("agent-conn");
    const key = await testKey("k");
    await writeFile(join(dir, "pw"), "s3cret\n", { mode: 0o600 });
    const cfg = join(dir, "agent.yaml");
    await writeFile(cfg, agentYaml({ brokerUrl: broker.wsUrl, stateDir: join(dir, "state"), publicJwk: key.publicJwk, kid: key.kid, extra: "notify: { motd: false, wall: false, tmux: false }" }).replace(`url: "${broker.wsUrl}"`, `url: "${broker.wsUrl}", username: agent-host1, passwordFile: pw`));
    const watch = async (topic: string) => {
      const client = await mqtt.connectAsync(broker.url, { username: "watcher", password: "w", reconnectPeriod: 200 });
      const seen: string[] = [];
      client.on("message", (_t, p) => seen.push(p.toString()));
      await client.subscribeAsync(topic, { qos: 1 });
      const until = async (pred: (s: string) => boolean, ms = 15_000) => { for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 20))) { const m = seen.find(pred); if (m) return m; } throw new Error(`not seen on ${topic}: ${seen.join(" | ")}`); };
      return { client, seen, until };
    };
    const status = await watch("labhog/lab/agents/host1/status");
    const events = await watch("labhog/lab/agents/host1/events");
    let agent = startAgentProcess(cfg);
    await status.until((s) => s === "online", 30_000);
    agent.kill("SIGKILL");
    await status.until((s) => s === "offline");
    status.seen.length = 0;
    agent = startAgentProcess(cfg);
    await status.until((s) => s === "online", 30_000);
    await events.until((s) => s.includes('"action":"started"'), 30_000);

    await broker.restart();
    events.seen.length = 0;
    // After the restart the agent reconnects and subscribes again: a new schedule reaches it.
    const pub = await mqtt.connectAsync(broker.url, { username: "watcher", password: "w" });
    for (let i = 0; i < 50 && !events.seen.some((s) => s.includes("schedule-accepted")); i++) {
      await pub.publishAsync("labhog/lab/resources/host1/schedule", await sign(schedule("host1", 100 + i, [entry({ start: new Date(Date.now() + 3600_000), end: new Date(Date.now() + 7200_000) })]), key), { qos: 1, retain: true });
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(events.seen.some((s) => s.includes("schedule-accepted"))).toBe(true);
    agent.kill("SIGTERM");
    await new Promise((r) => agent.once("exit", r));
    await Promise.all([status.client.endAsync(), events.client.endAsync(), pub.endAsync()]);
    await broker.stop();
  }, 90_000);

  it("a wrong password is refused by the broker and the agent keeps retrying (no crash)", async () => {
    const broker = await startMosquittoWithPasswords({ "agent-host1": "right" });
    const dir = await tempDir("agent-conn-bad");
    const key = await testKey("k");
    const cfg = join(dir, "agent.yaml");
    await writeFile(cfg, agentYaml({ brokerUrl: broker.url, stateDir: join(dir, "state"), publicJwk: key.publicJwk, kid: key.kid, extra: "notify: { motd: false, wall: false, tmux: false }" }).replace(`url: "${broker.url}"`, `url: "${broker.url}", username: agent-host1, password: wrong`));
    const agent = startAgentProcess(cfg);
    let err = "";
    agent.stderr!.on("data", (b: Buffer) => (err += b.toString()));
    // A cold start (fresh clone: tsx compiles everything) can take seconds; poll, don't sleep.
    await expect.poll(() => err, { timeout: 20_000, interval: 200 }).toMatch(/"msg":"broker error".*Not authorized|"msg":"broker error".*Bad username or password/);
    // …and it is still there, retrying, a while after the refusal.
    await new Promise((r) => setTimeout(r, 2000));
    expect(agent.exitCode).toBeNull();
    agent.kill("SIGTERM");
    await new Promise((r) => agent.once("exit", r));
    await broker.stop();
  }, 30_000);

  it("mqtts with the lab's own CA", async () => {
    const dir = await tempDir("agent-tls");
    const o = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    o(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=labhog test CA"]);
    o(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
    await writeFile(join(dir, "ext"), "subjectAltName=IP:127.0.0.1\n");
    o(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext"]);
    execFileSync("chmod", ["0644", join(dir, "server.key")]);
    const port = await freePort();
    await writeFile(join(dir, "mosquitto.conf"), [`listener ${port} 127.0.0.1`, `cafile ${dir}/ca.pem`, `certfile ${dir}/server.pem`, `keyfile ${dir}/server.key`, "allow_anonymous true"].join("\n") + "\n");
    execFileSync("chmod", ["0755", dir]);
    const broker: Service = await startAndWait("/usr/sbin/mosquitto", ["-c", join(dir, "mosquitto.conf")], { dir, port });
    try {
      const key = await testKey("k");
      const cfg = join(dir, "agent.yaml");
      const url = `mqtts://127.0.0.1:${port}`;
      await writeFile(cfg, agentYaml({ brokerUrl: url, stateDir: join(dir, "state"), publicJwk: key.publicJwk, kid: key.kid, extra: "notify: { motd: false, wall: false, tmux: false }" }).replace(`url: "${url}"`, `url: "${url}", ca: ca.pem`));
      const watcher = await mqtt.connectAsync(url, { ca: execFileSync("cat", [join(dir, "ca.pem")]) });
      const seen: string[] = [];
      watcher.on("message", (_t, p) => seen.push(p.toString()));
      await watcher.subscribeAsync("labhog/lab/agents/host1/status");
      const agent = startAgentProcess(cfg);
      for (let i = 0; i < 300 && !seen.includes("online"); i++) await new Promise((r) => setTimeout(r, 50));
      expect(seen).toContain("online");
      agent.kill("SIGTERM");
      await new Promise((r) => agent.once("exit", r));
      await watcher.endAsync();
    } finally {
      await broker.stop();
    }
  }, 60_000);
});
