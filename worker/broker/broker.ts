import { DurableObject } from "cloudflare:workers";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { effectiveEnv, secretOf, type Env } from "../env.ts";
import { labOf, mqttPrefix } from "../lab.ts";
import { createLogger } from "../log.ts";
import { applyAgentMessage, type AgentState, type AgentTopic } from "./agent-state.ts";
import { connectMqtt, type MqttClient } from "./mqtt.ts";
import { Outbox, type PublishResult } from "./outbox.ts";
import { ConsoleRelay } from "../console/relay.ts";
import { SESSION_HEADER, type ConsoleSession } from "../console/session.ts";
import type { ConsoleLogReply, ConsoleState } from "../../edge-agent/drivers/console/message.ts";
import { signingKeyOf } from "../schedule/signing-key.ts";
import { ledgerOf } from "../ledger/client.ts";
import type { Result } from "../ledger/protocol.ts";
import type { Reservation } from "../../calendar/model.ts";

const log = createLogger({ component: "broker" });
const CONNECT_WAIT_MS = 5_000;
const PUBLISH_TIMEOUT_MS = 5_000;
const KEEPALIVE_ALARM_MS = 30_000;
const AGENT_TOPICS = new Set<AgentTopic>(["status", "usage", "enforcement"]);

export type { PublishResult };

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
  /** Console WebSockets: accepted here, beside the one MQTT client they need. */
  #console: ConsoleRelay;
  /** Publishes gathered per turn and written together (outbox.ts). */
  #outbox = new Outbox(() => this.#sink(), PUBLISH_TIMEOUT_MS);
  /** One wait for the connection, shared by every publish that arrives before it is up; for that client only. */
  #connecting: { client: MqttClient; up: Promise<boolean> } | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#console = new ConsoleRelay({
      ctx,
      prefix: () => this.#settings?.prefix ?? (labOf(this.#env()).mqtt ? mqttPrefix(labOf(this.#env())) : undefined),
      signingKey: () => signingKeyOf(this.#env()),
      send: (topic, payload) => {
        const c = this.#ensureClient();
        if (!c) return false;
        c.publish(topic, payload, { qos: 1, retain: false });
        return true;
      },
    });
    this.#loaded = ctx.blockConcurrencyWhile(async () => {
      const stored = await ctx.storage.list<AgentState>({ prefix: "agent:" });
      for (const [k, v] of stored) this.#agents.set(k.slice("agent:".length), v);
      const consoles = await ctx.storage.list<ConsoleState>({ prefix: "console:" });
      this.#console.restoreStates(new Map([...consoles].map(([k, v]) => [k.slice("console:".length), v])));
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
    const topics = [`${s.prefix}/agents/+/status`, `${s.prefix}/agents/+/usage`, `${s.prefix}/agents/+/enforcement`, ...this.#console.topics(s.prefix)];
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
    if (this.#console.onMqtt(prefix, topic, payload)) return;
    if (!topic.startsWith(prefix + "/agents/")) return;
    const [agent, kind, ...rest] = topic.slice(prefix.length + "/agents/".length).split("/");
    if (!agent || rest.length || !AGENT_TOPICS.has(kind as AgentTopic)) return;
    const text = new TextDecoder().decode(payload);
    const next = applyAgentMessage(this.#agents.get(agent), kind as AgentTopic, text, retained, new Date());
    this.#agents.set(agent, next);
    void this.ctx.storage.put(`agent:${agent}`, next);
    if (kind === "enforcement") this.#tellEnforcementFailures(agent, next);
  }

  /** A booking not in place is a webhook event (enforcement.failed); the resource's ledger sends it, once per failure. */
  #tellEnforcementFailures(agent: string, s: AgentState): void {
    const env = this.#env();
    const lab = labOf(env);
    if (!Object.keys(lab.webhooks ?? {}).length) return;
    for (const [resource, report] of Object.entries(s.enforcement ?? {})) {
      // An agent speaks only for the resources the lab gives it.
      if (report.ok !== false || !Object.hasOwn(lab.resources, resource) || lab.resources[resource]!.agent !== agent) continue;
      const p = ledgerOf(env, resource)
        .enforcementFailed(resource, { agent, problems: report.problems, since: report.since ?? null })
        .catch((e: unknown) => log.warn("could not hand an enforcement failure to the ledger", { resource, error: (e as Error).message }));
      this.ctx.waitUntil(p);
    }
  }

  async #connected(client: MqttClient): Promise<boolean> {
    if (client.connected) return true;
    // A thousand ledgers publishing while the connection comes up wait on one listener, not a thousand.
    // A wait on a client since replaced (new settings) is not reused: that client will never connect.
    if (this.#connecting?.client === client) return this.#connecting.up;
    const wait = {
      client,
      up: new Promise<boolean>((resolve) => {
        const done = (v: boolean) => {
          clearTimeout(timer);
          client.off("connect", onConnect);
          if (this.#connecting === wait) this.#connecting = undefined;
          resolve(v);
        };
        const onConnect = () => done(true);
        const timer = setTimeout(() => done(false), CONNECT_WAIT_MS);
        client.on("connect", onConnect);
      }),
    };
    this.#connecting = wait;
    return wait.up;
  }

  /** The outbox's way out: the current client, or why there is none. */
  #sink() {
    let client: MqttClient | undefined;
    try {
      client = this.#ensureClient();
    } catch (e) {
      return `mqtt config: ${(e as Error).message}`;
    }
    if (!client) return "no MQTT broker configured";
    const c = client;
    return {
      ready: async () => ((await this.#connected(c)) ? undefined : `broker ${this.#settings?.url} not reachable`),
      send: (m: { topic: string; payload: string; qos: 0 | 1; retain: boolean }, done: (error?: Error) => void) => c.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain }, (e) => done(e ?? undefined)),
    };
  }

  /**
   * Publishes one message (retained QoS 1 by default), together with the
   * others of this turn (outbox.ts). Never throws: the caller retries on `ok: false`.
   */
  async publish(topic: string, payload: string, options: { retain?: boolean; qos?: 0 | 1 } = {}): Promise<PublishResult> {
    await this.#loaded;
    return this.#outbox.publish({ topic, payload, qos: options.qos ?? 1, retain: options.retain ?? true });
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

  /** Keeps the connection (and with it the agent subscriptions) up; reconnects after failures; ends console sessions whose booking ended. */
  override async alarm(): Promise<void> {
    const client = this.#ensureClient();
    if (client && !client.connected && !client.reconnecting) client.reconnect();
    await this.#console.sweep(Date.now(), async (s) => {
      const r = (await ledgerOf(this.#env(), s.resource).get(s.resource, s.entryId)) as Result<Reservation>;
      return r.ok && r.value.state === "active" && r.value.holder.id === s.user ? Date.parse(r.value.end) : undefined;
    });
    const end = this.#console.nextEnd();
    const next = Math.min(client ? Date.now() + KEEPALIVE_ALARM_MS : Infinity, end ?? Infinity);
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 10));
  }

  // ── console (worker/console/) ───────────────────────────────────────────

  /** The console WebSocket upgrade, forwarded by worker/console/register.ts once it decided who may. */
  override async fetch(request: Request): Promise<Response> {
    await this.#loaded;
    const raw = request.headers.get(SESSION_HEADER);
    if (!raw || request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("not a console upgrade", { status: 400 });
    const s = JSON.parse(raw) as ConsoleSession;
    this.#ensureClient();
    const client = this.#console.accept(s);
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > s.end) await this.ctx.storage.setAlarm(s.end);
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    this.#console.message(ws, message);
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    this.#console.closed(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      /* already closed */
    }
  }

  override webSocketError(ws: WebSocket): void {
    this.#console.closed(ws);
  }

  /** Whether an agent announced a console for the resource (retained console/state); connects first. */
  async consoleState(resource: string): Promise<ConsoleState | undefined> {
    await this.#loaded;
    const client = this.#ensureClient();
    if (!this.#console.consoleState(resource) && client) {
      await this.#connected(client);
      // A retained state arrives just after the (re)subscription: give it a moment before saying "no console".
      for (let i = 0; i < 20 && !this.#console.consoleState(resource); i++) await new Promise((r) => setTimeout(r, 50));
    }
    return this.#console.consoleState(resource);
  }

  /** A reservation's console log from its agent (MQTT request/response). */
  async consoleLog(resource: string, entryId: string): Promise<ConsoleLogReply | undefined> {
    await this.#loaded;
    const client = this.#ensureClient();
    if (!client || !(await this.#connected(client))) return undefined;
    return this.#console.fetchLog(resource, entryId);
  }

  /** Drops the connection (tests, config change). */
  async disconnect(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    this.#settings = undefined;
    if (c) await c.endAsync(true).catch(() => undefined);
  }
}
