import { DurableObject } from "cloudflare:workers";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { effectiveEnv, secretOf, type Env } from "../env.ts";
import { labOf, mqttPrefix } from "../lab.ts";
import { createLogger } from "../log.ts";
import { applyAgentMessage, type AgentState, type AgentTopic } from "./agent-state.ts";
import { connectMqtt, type MqttClient } from "./mqtt.ts";

const log = createLogger({ component: "broker" });
const CONNECT_WAIT_MS = 5_000;
const PUBLISH_TIMEOUT_MS = 5_000;
const KEEPALIVE_ALARM_MS = 30_000;
const AGENT_TOPICS = new Set<AgentTopic>(["status", "usage", "enforcement"]);

export type PublishResult = { ok: true } | { ok: false; error: string };

interface MqttSettings {
  url: string;
  username?: string;
  password?: string;
  prefix: string;
  key: string;
}

function settingsOf(env: Env, lab: LabConfig): MqttSettings | undefined {
  if (!lab.mqtt) return undefined;
  const password = secretOf(env, lab.mqtt.passwordSecret);
  const s = { url: lab.mqtt.url, prefix: mqttPrefix(lab), ...(lab.mqtt.username ? { username: lab.mqtt.username } : {}), ...(password ? { password } : {}) };
  return { ...s, key: JSON.stringify(s) };
}

/**
 * The Worker's one MQTT connection. A client opened in a stateless request
 * dies with that request (workerd's per-request I/O isolation); held here it
 * is shared by every ledger. Also listens to the agents' retained status,
 * usage and enforcement topics.
 */
export class Broker extends DurableObject<Env> {
  #client: MqttClient | undefined;
  #settings: MqttSettings | undefined;
  #agents = new Map<string, AgentState>();
  #loaded: Promise<void>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#loaded = ctx.blockConcurrencyWhile(async () => {
      const stored = await ctx.storage.list<AgentState>({ prefix: "agent:" });
      for (const [k, v] of stored) this.#agents.set(k.slice("agent:".length), v);
    });
  }

  #env(): Env {
    return effectiveEnv(this.env);
  }

  /** The client for the current settings, (re)created when they changed. */
  #ensureClient(): MqttClient | undefined {
    const env = this.#env();
    const s = settingsOf(env, labOf(env));
    if (!s) return undefined;
    if (this.#client && this.#settings?.key === s.key) return this.#client;
    this.#client?.end(true);
    this.#settings = s;
    const client = connectMqtt(s.url, {
      clientId: `labhog-worker-${crypto.randomUUID().slice(0, 8)}`,
      clean: true,
      reconnectPeriod: 2_000,
      connectTimeout: CONNECT_WAIT_MS,
      keepalive: 30,
      ...(s.username ? { username: s.username } : {}),
      ...(s.password ? { password: s.password } : {}),
    });
    const topics = [`${s.prefix}/agents/+/status`, `${s.prefix}/agents/+/usage`, `${s.prefix}/agents/+/enforcement`];
    client.on("connect", () => {
      log.info("mqtt connected", { url: s.url });
      client.subscribe(topics, { qos: 1 }, (err) => {
        if (err) log.warn("mqtt subscribe failed", { error: err.message });
      });
    });
    client.on("error", (e) => log.warn("mqtt error", { error: e.message }));
    client.on("offline", () => log.warn("mqtt offline", { url: s.url }));
    client.on("message", (topic, payload, packet) => this.#onMessage(s.prefix, topic, payload, packet.retain));
    this.#client = client;
    void this.ctx.storage.getAlarm().then((a) => (a === null ? this.ctx.storage.setAlarm(Date.now() + KEEPALIVE_ALARM_MS) : undefined));
    return client;
  }

  #onMessage(prefix: string, topic: string, payload: Uint8Array, retained: boolean): void {
    if (!topic.startsWith(prefix + "/agents/")) return;
    const [agent, kind, ...rest] = topic.slice(prefix.length + "/agents/".length).split("/");
    if (!agent || rest.length || !AGENT_TOPICS.has(kind as AgentTopic)) return;
    const text = new TextDecoder().decode(payload);
    const next = applyAgentMessage(this.#agents.get(agent), kind as AgentTopic, text, retained, new Date());
    this.#agents.set(agent, next);
    void this.ctx.storage.put(`agent:${agent}`, next);
  }

  async #connected(client: MqttClient): Promise<boolean> {
    if (client.connected) return true;
    return new Promise<boolean>((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        client.off("connect", onConnect);
        resolve(v);
      };
      const onConnect = () => done(true);
      const timer = setTimeout(() => done(false), CONNECT_WAIT_MS);
      client.on("connect", onConnect);
    });
  }

  /** Publishes one message (retained QoS 1 by default). Never throws: the caller retries on `ok: false`. */
  async publish(topic: string, payload: string, options: { retain?: boolean; qos?: 0 | 1 } = {}): Promise<PublishResult> {
    await this.#loaded;
    let client: MqttClient | undefined;
    try {
      client = this.#ensureClient();
    } catch (e) {
      return { ok: false, error: `mqtt config: ${(e as Error).message}` };
    }
    if (!client) return { ok: false, error: "no MQTT broker configured" };
    if (!(await this.#connected(client))) return { ok: false, error: `broker ${this.#settings?.url} not reachable` };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        client.publishAsync(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? true }),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no PUBACK in time")), PUBLISH_TIMEOUT_MS))),
      ]);
      return { ok: true };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether MQTT is configured at all (ledgers skip publishing when not). */
  async configured(): Promise<boolean> {
    const env = this.#env();
    return settingsOf(env, labOf(env)) !== undefined;
  }

  /** Agent states (online/offline, last seen, latest usage); connects first so retained states arrive. */
  async agents(): Promise<Record<string, AgentState>> {
    await this.#loaded;
    try {
      this.#ensureClient();
    } catch {
      /* reported by publish */
    }
    return Object.fromEntries(this.#agents);
  }

  /** Keeps the connection (and with it the agent subscriptions) up; reconnects after failures. */
  override async alarm(): Promise<void> {
    const client = this.#ensureClient();
    if (client && !client.connected && !client.reconnecting) client.reconnect();
    if (client) await this.ctx.storage.setAlarm(Date.now() + KEEPALIVE_ALARM_MS);
  }

  /** Drops the connection (tests, config change). */
  async disconnect(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    this.#settings = undefined;
    if (c) await c.endAsync(true).catch(() => undefined);
  }
}
