import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { access, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SerialPort } from "serialport";
import WebSocket from "ws";
import { generateSigningKey } from "../../calendar/schedule/schedule.ts";
import { Agent } from "../../edge-agent/agent/agent.ts";
import { loadDriverModules, schemasOf } from "../../edge-agent/agent/driver-modules.ts";
import { loadAgentConfig } from "../../edge-agent/config/agent-config.ts";
import { createLogger } from "../../edge-agent/log.ts";
import type { JWK } from "jose";
import { callApi } from "../api-call.ts";
import { CLOSE_WAIT_MS } from "../../edge-agent/cli/console.ts";
import type { RunningWorker } from "../e2e/start-worker.ts";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { unstable_startWorker } from "wrangler";
import { startMosquitto, type MosquittoService } from "../services/mosquitto.ts";
import { tempDir } from "../services/process.ts";

/**
 * Everything real for the console: Mosquitto (TCP for the agent, WebSocket
 * for the Worker), the Worker in workerd with a schedule signing key, the
 * real agent with the console driver on one end of a socat pty pair, and
 * the test as the board on the other end (a stand-in for the board's UART).
 */
export const SITE = "contest";
export const PREFIX = `labhog/${SITE}`;
export const TOKENS = { alice: "con-alice-token-0123456789abcdef", bob: "con-bob-token-0123456789abcdef", carol: "con-carol-token-0123456789abcdef" } as const;
export type Who = keyof typeof TOKENS;
const root = join(import.meta.dirname, "..", "..");
const execFileP = promisify(execFile);
const sha = (t: string) => createHash("sha256").update(t).digest("hex");

const labYaml = (mqttWs: string) => `site: ${SITE}
timezone: UTC
calendars:
  default: { backend: memory }
resources:
  board1: { name: "Board 1", kind: board, agent: benchhost, tags: { soc: rk3588 } }
  board2: { name: "Board 2", kind: board, agent: benchhost, tags: { soc: rk3588 } }
users:
  alice: { name: Alice, email: alice@example.com, unix: alice, groups: [lab] }
  bob: { name: Bob, email: bob@example.com, unix: bob, groups: [lab] }
  carol: { name: Carol, email: carol@example.com, unix: carol, groups: [lab, admins] }
groups:
  lab: { book: ["*"] }
  admins: { admin: ["*"] }
mqtt:
  url: ${mqttWs}
  prefix: ${PREFIX}
policy:
  syncInterval: 5s
`;

/** The board's side of the UART: what the console wrote to it, and a way to answer. */
export interface Board {
  port: SerialPort;
  received(): string;
  write(s: string): Promise<void>;
  /** Resolves once the board has received `text` (everything so far contains it). */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

export interface ConsoleLab {
  worker: Pick<RunningWorker, "url" | "dispose">;
  mosquitto: MosquittoService;
  agent: Agent;
  board: Board;
  dir: string;
  key: { privateJwk: JWK; publicJwk: JWK; kid: string };
  api(method: string, path: string, body?: unknown, who?: Who): Promise<{ status: number; body: any; headers: Headers }>;
  /** Opens the console WebSocket; resolves on open, rejects with the refusal (status + problem JSON). */
  connect(resource: string, who: Who, query?: string): Promise<WebSocket>;
  /** The refusal of a console request: status and body (the upgrade never happens). */
  refused(resource: string, who: Who | null, query?: string): Promise<{ status: number; contentType: string; body: any }>;
  stop(): Promise<void>;
}

async function startBoard(dir: string): Promise<{ socat: ChildProcess; board: Board; agentSide: string }> {
  const a = join(dir, "uart-agent");
  const b = join(dir, "uart-board");
  const socat = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: "ignore" });
  for (let i = 0; ; i++) {
    try {
      await access(a);
      await access(b);
      break;
    } catch {
      if (i > 200) throw new Error("socat made no ptys");
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const port = new SerialPort({ path: b, baudRate: 115200 });
  await new Promise((r) => port.once("open", r));
  let got = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  port.on("data", (d: Buffer) => {
    got += d.toString("utf8");
    for (const w of [...waiters]) if (got.includes(w.text)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  });
  const board: Board = {
    port,
    received: () => got,
    write: (s) => new Promise((resolve, reject) => port.write(s, (e) => (e ? reject(e) : port.drain((e2) => (e2 ? reject(e2) : resolve()))))),
    waitFor(text, timeoutMs = 15_000) {
      if (got.includes(text)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const w = { text, resolve: () => { clearTimeout(timer); resolve(); } };
        const timer = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); reject(new Error(`the board never received ${JSON.stringify(text)}; it got ${JSON.stringify(got.slice(-500))}`)); }, timeoutMs);
        waiters.push(w);
      });
    },
  };
  return { socat, board, agentSide: a };
}

/**
 * The Worker from a bundle made once (wrangler deploy --dry-run) rather than
 * from the sources: wrangler's dev server rebuilds and restarts on every
 * change to a bundled source file (its esbuild watch), and a restart drops
 * every WebSocket. Console sessions last as long as a booking, and other
 * people edit this checkout meanwhile.
 */
export async function startBundledWorker(dir: string, vars: Record<string, string>): Promise<Pick<RunningWorker, "url" | "dispose">> {
  const out = join(dir, "worker-bundle");
  await execFileP(process.execPath, [join(root, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", out, "--config", join(root, "wrangler.toml")], { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  const worker = await unstable_startWorker({
    config: join(root, "wrangler.toml"),
    entrypoint: join(out, "index.js"),
    compatibilityFlags: ["nodejs_compat"],
    bindings: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { type: "plain_text" as const, value: v }])),
    triggers: [],
    // The bundle's text modules (lab.yaml, xterm.js/css) are named <hash>-<name>: wrangler.toml's globs for the sources don't match them.
    build: { nodejsCompatMode: "v2", moduleRules: [{ type: "Text", globs: ["**/*.yaml", "**/*-xterm.js", "**/*-xterm.css"], fallthrough: true }] },
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, persist: false, watch: false, logLevel: "warn", liveReload: false },
  });
  await worker.ready;
  const url = (await worker.url).toString().replace(/\/$/, "");
  return { url, dispose: () => worker.dispose() };
}

export async function startConsoleLab(): Promise<ConsoleLab> {
  const dir = await tempDir("console-lab");
  const mosquitto = await startMosquitto();
  const kid = "console-key";
  const key = { kid, ...(await generateSigningKey(kid)) };
  const worker = await startBundledWorker(dir, {
    LAB_CONFIG: labYaml(mosquitto.wsUrl),
    API_TOKENS: JSON.stringify(Object.fromEntries(Object.entries(TOKENS).map(([u, t]) => [sha(t), `user:${u}`]))),
    SCHEDULE_SIGNING_KEY: JSON.stringify(key.privateJwk),
    LOG_LEVEL: process.env.CONSOLE_TEST_LOG ?? "error",
  });
  const { socat, board, agentSide } = await startBoard(dir);
  const stateDir = join(dir, "state");
  const cfgPath = join(dir, "agent.yaml");
  await writeFile(
    cfgPath,
    [
      "agent: benchhost",
      `site: ${SITE}`,
      `topicPrefix: ${PREFIX}`,
      `broker: { url: "${mosquitto.url}" }`,
      `trustedKeys: { ${kid}: ${JSON.stringify(key.publicJwk)} }`,
      "resources:",
      `  - { id: board1, kind: board, hog: false, notify: false, console: { path: ${JSON.stringify(agentSide)}, baudRate: 115200 } }`,
      `stateDir: ${stateDir}`,
      "",
    ].join("\n"),
  );
  const mods = await loadDriverModules(["console"]);
  const agent = new Agent({ config: await loadAgentConfig(cfgPath, schemasOf(mods)), modules: mods, log: createLogger({ level: "error" }), claimSettleMs: 200 });
  await agent.start();
  const wsBase = worker.url.replace(/^http/, "ws");
  const lab: ConsoleLab = {
    worker, mosquitto, agent, board, dir, key,
    api: (method, path, body, who = "alice") => callApi(worker.url, TOKENS[who], method, path, body),
    connect(resource, who, query = "") {
      return new Promise((resolve, reject) => {
        // closeTimeout as labhog console sets it: the close code arrives with the close frame, the TCP close may lag (wrangler's proxy).
        const ws = new WebSocket(`${wsBase}/api/v1/resources/${encodeURIComponent(resource)}/console${query}`, { headers: { authorization: `Bearer ${TOKENS[who]}` }, closeTimeout: CLOSE_WAIT_MS } as WebSocket.ClientOptions);
        ws.once("open", () => resolve(ws));
        ws.once("unexpected-response", (_req, res) => {
          let body = "";
          res.on("data", (b: Buffer) => (body += b.toString()));
          res.on("end", () => reject(new Error(`console refused: ${res.statusCode} ${body}`)));
        });
        ws.once("error", reject);
      });
    },
    refused(resource, who, query = "") {
      return new Promise((resolve, reject) => {
        const headers: Record<string, string> = who ? { authorization: `Bearer ${TOKENS[who]}` } : {};
        const ws = new WebSocket(`${wsBase}/api/v1/resources/${encodeURIComponent(resource)}/console${query}`, { headers });
        ws.once("open", () => { ws.close(); reject(new Error("the console opened")); });
        ws.once("unexpected-response", (_req, res) => {
          let text = "";
          res.on("data", (b: Buffer) => (text += b.toString()));
          res.on("end", () => {
            let body: any = text;
            try { body = JSON.parse(text); } catch { /* kept as text */ }
            resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body });
          });
        });
        ws.once("error", (e) => { if (!/Unexpected server response/.test(e.message)) reject(e); });
      });
    },
    async stop() {
      await agent.stop().catch(() => undefined);
      await new Promise((r) => (board.port.isOpen ? board.port.close(r) : r(undefined)));
      socat.kill("SIGTERM");
      await worker.dispose().catch(() => undefined);
      await mosquitto.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return lab;
}

export { until } from "../services/process.ts";
