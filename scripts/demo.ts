/**
 * The embedded default (`npm start`): the Worker under `wrangler dev` with the
 * memory backend persisted in Durable Object storage, an embedded MQTT broker,
 * the demo lab (worker/lab.yaml) and one simulated agent per demo host.
 *
 *   npm start                                   # everything on this machine
 *   npm start -- --lab my-lab.yaml --env-file secrets.env   # your calendars and broker
 *
 * With --lab, the lab's `mqtt.url` decides: a local ws://127.0.0.1 URL gets the
 * embedded broker, anything else is used as it is (a real Mosquitto/EMQX).
 * State (keys, demo tokens, the ledgers) lives in .labhog/demo and survives restarts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify as toYaml } from "yaml";
import { parseLabConfig, type LabConfig } from "../calendar/config/lab-config.ts";
import { generateSigningKey } from "../calendar/schedule/schedule.ts";
import { startEmbeddedBroker, type EmbeddedBroker } from "../edge-agent/broker/embedded-broker.ts";
import { createLogger } from "../edge-agent/log.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const log = createLogger({ base: { component: "demo" } });
const { values: opt } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    state: { type: "string", default: join(root, ".labhog", "demo") },
    lab: { type: "string" },
    "env-file": { type: "string", multiple: true },
    "no-agents": { type: "boolean" },
  },
});
const port = Number(opt.port);
const stateDir = resolve(opt.state!);

interface DemoSecrets {
  signingKey: Record<string, unknown>;
  publicKey: Record<string, unknown>;
  tokens: Record<string, string>;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

async function loadOrCreateSecrets(lab: LabConfig): Promise<DemoSecrets> {
  const file = join(stateDir, "secrets.json");
  let s: DemoSecrets | undefined;
  try {
    s = JSON.parse(await readFile(file, "utf8")) as DemoSecrets;
  } catch {
    const { privateJwk, publicJwk } = await generateSigningKey(`demo-${new Date().toISOString().slice(0, 10)}`);
    s = { signingKey: privateJwk as Record<string, unknown>, publicKey: publicJwk as Record<string, unknown>, tokens: {} };
  }
  for (const who of [...Object.keys(lab.users).map((u) => `user:${u}`), ...Object.keys(lab.agents).map((a) => `agent:${a}`)]) {
    s.tokens[who] ??= `lh_${randomBytes(18).toString("base64url")}`;
  }
  await writeFile(file, JSON.stringify(s, null, 2), { mode: 0o600 });
  return s;
}

/** wrangler's --env-file is dotenv: single quotes keep the JSON's double quotes. */
async function writeWorkerEnv(lab: LabConfig, secrets: DemoSecrets): Promise<string> {
  const apiTokens: Record<string, string> = {};
  for (const [who, token] of Object.entries(secrets.tokens)) apiTokens[sha256(token)] = who;
  const vars: Record<string, string> = {
    SCHEDULE_SIGNING_KEY: JSON.stringify(secrets.signingKey),
    API_TOKENS: JSON.stringify(apiTokens),
    LOG_LEVEL: "info",
  };
  for (const [agent, cfg] of Object.entries(lab.agents)) {
    if (cfg.tokenSecret) vars[cfg.tokenSecret] = sha256(secrets.tokens[`agent:${agent}`]!);
  }
  const file = join(stateDir, "worker.env");
  const quote = (v: string) => (v.includes("'") || v.includes("\n") ? JSON.stringify(v) : `'${v}'`);
  await writeFile(file, Object.entries(vars).map(([k, v]) => `${k}=${quote(v)}`).join("\n") + "\n", { mode: 0o600 });
  return file;
}

function run(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const prefix = (line: string) => (line.startsWith("{") ? line : JSON.stringify({ time: new Date().toISOString(), level: "info", component: name, msg: line }));
  for (const stream of [child.stdout, child.stderr]) {
    let buf = "";
    stream?.on("data", (b: Buffer) => {
      buf += b.toString();
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const l of lines) if (l.trim()) process.stderr.write(prefix(l.replace(/\x1b\[[0-9;]*m/g, "")) + "\n");
    });
  }
  child.on("exit", (code, sig) => log[code === 0 || sig ? "info" : "error"](`${name} exited`, { code, signal: sig }));
  return child;
}

async function waitForWorker(url: string, child: ChildProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error("wrangler dev exited before the Worker answered (see its log above)");
    try {
      const res = await fetch(`${url}/openapi.json`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`the Worker did not answer on ${url} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function writeAgentConfig(agent: string, lab: LabConfig, secrets: DemoSecrets, brokerUrl: string, workerUrl: string): Promise<string> {
  const dir = join(stateDir, "agents", agent);
  await mkdir(dir, { recursive: true });
  const resources = Object.entries(lab.resources).filter(([, r]) => r.agent === agent).map(([id, r]) => ({ id, kind: r.kind, hog: r.kind === "host" }));
  const cfg = {
    agent,
    site: lab.site,
    topicPrefix: lab.mqtt?.prefix ?? `labhog/${lab.site}`,
    broker: { url: brokerUrl },
    trustedKeys: { [String(secrets.publicKey.kid)]: secrets.publicKey },
    resources,
    notify: { motd: join(dir, "motd"), wall: false, tmux: false },
    stateDir: dir,
    statusUrl: `${workerUrl}/status`,
    worker: { url: `${workerUrl}/api/v1/agents/${agent}/usage`, token: secrets.tokens[`agent:${agent}`] },
  };
  const file = join(dir, "agent.yaml");
  await writeFile(file, toYaml(cfg), { mode: 0o600 });
  return file;
}

async function main(): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const labText = opt.lab ? await readFile(opt.lab, "utf8") : undefined;
  const lab = parseLabConfig(labText ?? (await readFile(join(root, "worker", "lab.yaml"), "utf8")));
  const secrets = await loadOrCreateSecrets(lab);
  const envFile = await writeWorkerEnv(lab, secrets);

  const children: ChildProcess[] = [];
  let broker: EmbeddedBroker | undefined;
  let agentBrokerUrl = lab.mqtt?.url ?? "";
  const local = /^wss?:\/\/(127\.0\.0\.1|localhost)(:(\d+))?/.exec(lab.mqtt?.url ?? "ws://127.0.0.1:8884");
  if (local) {
    const wsPort = Number(local[3] ?? 80);
    // The demo's usual ports (1884/8884); any free TCP port when the lab moved the WebSocket one.
    broker = await startEmbeddedBroker({ port: wsPort === 8884 ? 1884 : 0, wsPort, log });
    agentBrokerUrl = broker.url;
  }

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping");
    await Promise.all(
      children.map((c) => new Promise<void>((r) => {
        if (c.exitCode !== null || c.signalCode !== null) return r();
        c.once("exit", () => r());
        c.kill("SIGTERM");
        setTimeout(() => c.kill("SIGKILL"), 5000).unref();
      })),
    );
    await broker?.close();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  const workerUrl = `http://127.0.0.1:${port}`;
  const wrangler = run("worker", process.execPath, [
    join(root, "node_modules", "wrangler", "bin", "wrangler.js"), "dev",
    "--ip", "127.0.0.1", "--port", String(port),
    "--persist-to", join(stateDir, "wrangler"),
    "--env-file", envFile, ...(opt["env-file"] ?? []).flatMap((f) => ["--env-file", resolve(f)]),
    "--show-interactive-dev-session=false", "--log-level", "warn",
    // A lab file goes in as a var: dotenv's quoting can't carry arbitrary YAML.
    ...(labText ? ["--var", `LAB_CONFIG:${labText}`] : []),
  ], { WRANGLER_SEND_METRICS: "false", CI: "1" });
  children.push(wrangler);
  try {
    await waitForWorker(workerUrl, wrangler);
  } catch (e) {
    log.error((e as Error).message);
    return stop(1);
  }

  const agents = [...new Set(Object.values(lab.resources).map((r) => r.agent).filter((a): a is string => !!a))];
  if (!opt["no-agents"]) {
    for (const agent of agents) {
      const file = await writeAgentConfig(agent, lab, secrets, agentBrokerUrl, workerUrl);
      children.push(run(`agent:${agent}`, process.execPath, [join(root, "edge-agent", "bin", "labhog.mjs"), "agent", "--config", file, "--simulate"]));
    }
  }

  const userTokens = Object.entries(secrets.tokens).filter(([w]) => w.startsWith("user:"));
  const lines = [
    "",
    "labhog is running (embedded default). Ctrl-C stops everything.",
    "",
    `  status page   ${workerUrl}/status`,
    `  API           ${workerUrl}/api/v1/resources   (OpenAPI: ${workerUrl}/openapi.json)`,
    `  feeds         ${workerUrl}/feeds/<resource>.ics, ${workerUrl}/feeds/pool/<pool>.ics`,
    `  MQTT          ${broker ? `${broker.url} and ${broker.wsUrl} (embedded)` : lab.mqtt?.url}`,
    `  agents        ${opt["no-agents"] ? "(none)" : agents.map((a) => `${a} (simulated)`).join(", ")}`,
    "",
    "  demo tokens:",
    ...userTokens.map(([w, t]) => `    ${w.slice(5).padEnd(8)} ${t}`),
    "",
    "  try:",
    `    export LABHOG_URL=${workerUrl} LABHOG_TOKEN=${userTokens[0]?.[1] ?? ""}`,
    `    node edge-agent/bin/labhog.mjs status --lab`,
    `    node edge-agent/bin/labhog.mjs book --pool ${Object.keys(lab.pools)[0] ?? "<pool>"} --for 1h --purpose "trying labhog"`,
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((e: Error) => {
  log.error(e.message);
  process.exit(1);
});
