import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "../log.ts";
import type { AgentConfig } from "../config/agent-config.ts";
import type { Topics } from "./topics.ts";

export interface LinkHandlers {
  /** Every (re)connect, after `online` is published: subscribe here. */
  onConnect(client: MqttClient): void;
  onMessage(topic: string, payload: Buffer, retained: boolean): void;
}

const minBackoff = 1000;
const maxBackoff = 30_000;

/**
 * The broker connection: own credentials, TLS (mqtts/wss with a CA) or
 * WebSocket, a retained `online` with `offline` as last will, reconnect with
 * exponential backoff (MQTT.js only knows a fixed period, so the period is
 * widened on every failed attempt and reset on success), and a fresh
 * subscription on every connect (clean sessions: nothing is assumed kept).
 */
export function connectBroker(cfg: AgentConfig, t: Topics, log: Logger, h: LinkHandlers): MqttClient {
  const opts: IClientOptions = {
    clientId: cfg.broker.clientId ?? `labhog-agent-${cfg.agent}`,
    clean: true,
    keepalive: 30,
    connectTimeout: 10_000,
    reconnectPeriod: minBackoff,
    resubscribe: false,
    // MQTT.js would otherwise pre-build a Buffer for each of the 65,536 packet ids
    // (about 6 MB of heap, kept for the life of the agent) to save an allocation per packet.
    writeCache: false,
    will: { topic: t.status, payload: Buffer.from("offline"), qos: 1, retain: true },
  };
  if (cfg.broker.username !== undefined) opts.username = cfg.broker.username;
  if (cfg.broker.password !== undefined) opts.password = cfg.broker.password;
  if (cfg.broker.ca !== undefined) opts.ca = cfg.broker.ca;
  const client = mqtt.connect(cfg.broker.url, opts);
  let backoff = minBackoff;
  client.on("connect", () => {
    // Console keystrokes are tiny packets right behind a PUBACK: with Nagle on, each waits for the broker's delayed ACK (~40 ms).
    (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    backoff = minBackoff;
    client.options.reconnectPeriod = backoff;
    log.info("broker connected", { url: cfg.broker.url });
    client.publish(t.status, "online", { qos: 1, retain: true });
    h.onConnect(client);
  });
  client.on("close", () => {
    client.options.reconnectPeriod = backoff;
    backoff = Math.min(maxBackoff, backoff * 2);
  });
  client.on("offline", () => log.warn("broker unreachable; enforcing the last schedule by the local clock", { url: cfg.broker.url, retryInMs: client.options.reconnectPeriod }));
  client.on("error", (e) => log.warn("broker error", { error: e }));
  client.on("message", (topic, payload, packet) => h.onMessage(topic, payload, packet.retain));
  return client;
}
