import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import type { JWK } from "jose";
import { generateSigningKey, signSchedule, type Schedule, type ScheduleEntry } from "../../calendar/schedule/schedule.ts";

/**
 * STAND-IN executables (not the real wall/tmux/systemctl): shell scripts
 * that append one JSON line per call with their name, arguments and the
 * time, so tests can check the exact commands the agent ran.
 */
export async function makeStandins(dir: string, names: string[], extra: Record<string, string> = {}): Promise<{ bin: string; log: string; calls(): Promise<{ cmd: string; args: string[]; t: number }[]> }> {
  const bin = join(dir, "standin-bin");
  const log = join(dir, "standin-calls.jsonl");
  await mkdir(bin, { recursive: true });
  for (const name of names) {
    const script = `#!/usr/bin/env node
// STAND-IN for ${name}: records its arguments, does nothing else.
require("fs").appendFileSync(${JSON.stringify(log)}, JSON.stringify({ cmd: ${JSON.stringify(name)}, args: process.argv.slice(2), t: Date.now() }) + "\\n");
${extra[name] ?? ""}
`;
    await writeFile(join(bin, name), script);
    await chmod(join(bin, name), 0o755);
  }
  return {
    bin,
    log,
    async calls() {
      const text = await readFile(log, "utf8").catch(() => "");
      return text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { cmd: string; args: string[]; t: number });
    },
  };
}

export interface TestKey { kid: string; privateJwk: JWK; publicJwk: JWK }

export async function testKey(kid = "test-1"): Promise<TestKey> {
  const k = await generateSigningKey(kid);
  return { kid, ...k };
}

export function entry(p: Partial<Omit<ScheduleEntry, "holder" | "start" | "end">> & { holder?: Partial<ScheduleEntry["holder"]>; start: Date | string; end: Date | string }): ScheduleEntry {
  const iso = (d: Date | string) => (typeof d === "string" ? d : d.toISOString());
  return {
    id: p.id ?? `r-${Math.random().toString(36).slice(2, 8)}`,
    holder: { id: "bob", unix: ["bob"], keys: [], ...p.holder },
    start: iso(p.start),
    end: iso(p.end),
    exclusive: p.exclusive ?? true,
    ...(p.mode ? { mode: p.mode } : {}),
  };
}

export function schedule(resource: string, seq: number, entries: ScheduleEntry[], validForMs = 24 * 3600_000, issuedAt = new Date()): Schedule {
  return { v: 1, resource, seq, issuedAt: issuedAt.toISOString(), validUntil: new Date(issuedAt.getTime() + validForMs).toISOString(), entries };
}

export const sign = (s: Schedule, k: TestKey) => signSchedule(s, { kid: k.kid, jwk: k.privateJwk });

/** Collects JSON messages on a topic. */
export async function listen(url: string, topic: string): Promise<{ client: MqttClient; messages: { topic: string; body: any; at: number }[]; waitFor(pred: (m: any) => boolean, timeoutMs?: number): Promise<any> }> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 200 });
  const messages: { topic: string; body: any; at: number }[] = [];
  const waiters: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  client.on("message", (t, p) => {
    let body: any;
    try { body = JSON.parse(p.toString()); } catch { body = p.toString(); }
    messages.push({ topic: t, body, at: Date.now() });
    for (const w of [...waiters]) if (w.pred(body)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(body); }
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return {
    client,
    messages,
    waitFor(pred, timeoutMs = 10_000) {
      const found = messages.find((m) => pred(m.body));
      if (found) return Promise.resolve(found.body);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (m: any) => { clearTimeout(timer); resolve(m); } };
        const timer = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); reject(new Error(`no matching message on ${topic} in ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.body)).slice(0, 2000)}`)); }, timeoutMs);
        waiters.push(w);
      });
    },
  };
}

/**
 * An agent config for tests. `resources` are ids with the hog off; `resourceLines`
 * (YAML flow mappings) say more about each resource and replace them.
 */
export function agentYaml(o: { agent?: string; brokerUrl: string; stateDir: string; publicJwk: JWK; kid: string; resources?: string[]; resourceLines?: string[]; extra?: string }): string {
  return [
    `agent: ${o.agent ?? "host1"}`,
    "site: lab",
    `broker: { url: "${o.brokerUrl}" }`,
    "trustedKeys:",
    `  ${o.kid}: ${JSON.stringify(o.publicJwk)}`,
    "resources:",
    ...(o.resourceLines ?? (o.resources ?? ["host1"]).map((r) => `{ id: ${r}, hog: false }`)).map((line) => `  - ${line}`),
    `stateDir: ${o.stateDir}`,
    // Never the machine's own /etc/motd.d or a real wall to its terminals: a test names its notify settings, or gets these.
    ...(o.extra?.includes("notify:") ? [] : [`notify: { motd: ${JSON.stringify(`${o.stateDir}/motd`)}, wall: false, tmux: false }`]),
    o.extra ?? "",
  ].join("\n") + "\n";
}

const agentBin = join(import.meta.dirname, "..", "..", "edge-agent", "bin", "labhog.mjs");

/** What the agent processes of one test logged, across restarts (the last 100,000 characters), for a failure's message. */
export class AgentLog {
  text = "";
  add(chunk: Buffer): void {
    this.text = (this.text + chunk).slice(-100_000);
  }
}

/** The built agent as its own process with this config, logging into `log`. */
export function spawnAgent(cfgPath: string, log: AgentLog, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(process.execPath, [agentBin, "agent", "--config", cfgPath], { env, stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (b: Buffer) => log.add(b));
  return child;
}
