import { importJWK } from "jose";
import type { SigningKey } from "../../calendar/schedule/schedule.ts";
import {
  consoleTopics,
  fromBase64,
  nextConsoleSeq,
  signConsoleInput,
  toBase64,
  type ConsoleInput,
  type ConsoleLogReply,
  type ConsoleOutput,
  type ConsoleState,
} from "../../edge-agent/drivers/console/message.ts";
import { createLogger } from "../log.ts";
import type { ConsoleSession } from "./session.ts";

const log = createLogger({ component: "console" });

/** WebSocket close codes the CLI and the status page explain. */
export const CLOSE = { ended: 4000, takenOver: 4001, tooLarge: 1009, unavailable: 4003 } as const;
const MAX_INPUT_BYTES = 16 * 1024;
const LOG_WAIT_MS = 10_000;

export interface RelayHost {
  ctx: DurableObjectState;
  prefix(): string | undefined;
  signingKey(): SigningKey | undefined;
  /** Publishes at once (queued by MQTT.js while reconnecting); false when MQTT isn't configured. */
  send(topic: string, payload: string): boolean;
}

const tag = (resource: string) => `console:${resource}`;

/**
 * The console's half of the Broker Durable Object (which holds the Worker's
 * one MQTT client): WebSockets accepted here with the hibernation API,
 * keystrokes signed and published on console/in, console/out fanned out to
 * the sockets of the reservation it belongs to, sessions closed when the
 * booking ends. Who may open what is decided before the upgrade, in
 * register.ts; a socket here carries that decision as its attachment.
 */
export class ConsoleRelay {
  #seq = 0;
  #chain: Promise<unknown> = Promise.resolve();
  #key: { text: string; key: Promise<CryptoKey | Uint8Array> } | undefined;
  #states = new Map<string, ConsoleState>();
  #pendingLogs = new Map<string, (r: ConsoleLogReply) => void>();

  constructor(private readonly host: RelayHost) {}

  /** Topics the Broker subscribes to on every connect. */
  topics(prefix: string): string[] {
    return [`${prefix}/resources/+/console/out`, `${prefix}/resources/+/console/state`, `${prefix}/resources/+/console/log/+`];
  }

  restoreStates(stored: Map<string, ConsoleState>): void {
    for (const [k, v] of stored) this.#states.set(k, v);
  }

  consoleState(resource: string): ConsoleState | undefined {
    return this.#states.get(resource);
  }

  /** Opens a session: the socket pair's server end is kept here; the client end goes back to the caller. */
  accept(s: ConsoleSession): WebSocket {
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.host.ctx.acceptWebSocket(server, [tag(s.resource)]);
    server.serializeAttachment(s);
    if (s.mode === "write") {
      // One writer: an earlier writer socket of the same reservation hands over (as `screen -d` would).
      for (const ws of this.host.ctx.getWebSockets(tag(s.resource))) {
        const o = ws.deserializeAttachment() as ConsoleSession | null;
        if (ws !== server && o?.mode === "write") ws.close(CLOSE.takenOver, "another session took the console");
      }
      this.#publish(s, { type: "open" });
    }
    return client;
  }

  /** Earliest end among open sessions (the Broker arms its alarm for it). */
  nextEnd(): number | undefined {
    let min: number | undefined;
    for (const ws of this.host.ctx.getWebSockets()) {
      const s = ws.deserializeAttachment() as ConsoleSession | null;
      if (s && (min === undefined || s.end < min)) min = s.end;
    }
    return min;
  }

  /**
   * Closes sessions whose booking is over. `stillActive` asks the ledger
   * (the booking may have been extended): it answers the new end, or
   * undefined when the reservation no longer runs.
   */
  async sweep(now: number, stillActive: (s: ConsoleSession) => Promise<number | undefined>): Promise<void> {
    for (const ws of this.host.ctx.getWebSockets()) {
      const s = ws.deserializeAttachment() as ConsoleSession | null;
      if (!s || s.end > now) continue;
      const end = await stillActive(s).catch(() => undefined);
      if (end !== undefined && end > now) ws.serializeAttachment({ ...s, end });
      else ws.close(CLOSE.ended, "the booking ended");
    }
  }

  message(ws: WebSocket, data: string | ArrayBuffer): void {
    const s = ws.deserializeAttachment() as ConsoleSession | null;
    if (!s || s.mode !== "write") return;
    if (Date.now() >= s.end) {
      ws.close(CLOSE.ended, "the booking ended");
      return;
    }
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : new Uint8Array(data);
    if (bytes.length > MAX_INPUT_BYTES) {
      ws.close(CLOSE.tooLarge, `at most ${MAX_INPUT_BYTES} bytes per message`);
      return;
    }
    if (bytes.length) this.#publish(s, { type: "data", data: toBase64(bytes) });
  }

  closed(ws: WebSocket): void {
    const s = ws.deserializeAttachment() as ConsoleSession | null;
    if (s?.mode === "write") this.#publish(s, { type: "close" });
  }

  /** A message on one of `topics()`; false when it is not the console's. */
  onMqtt(prefix: string, topic: string, payload: Uint8Array): boolean {
    const head = `${prefix}/resources/`;
    if (!topic.startsWith(head)) return false;
    const [resource, console_, kind, ...rest] = topic.slice(head.length).split("/");
    if (!resource || console_ !== "console") return false;
    const text = new TextDecoder().decode(payload);
    try {
      if (kind === "out" && !rest.length) this.#out(resource, JSON.parse(text) as ConsoleOutput);
      else if (kind === "state" && !rest.length) {
        if (!text) this.#states.delete(resource);
        else {
          const st = JSON.parse(text) as ConsoleState;
          this.#states.set(resource, st);
          void this.host.ctx.storage.put(`console:${resource}`, st);
        }
      } else if (kind === "log" && rest.length === 1) {
        const r = JSON.parse(text) as ConsoleLogReply;
        this.#pendingLogs.get(rest[0]!)?.(r);
      }
    } catch (e) {
      log.warn("console message unreadable", { topic, error: (e as Error).message });
    }
    return true;
  }

  /** Asks the agent for a reservation's log (signed like input); undefined when it does not answer in time. */
  async fetchLog(resource: string, entryId: string): Promise<ConsoleLogReply | undefined> {
    const req = crypto.randomUUID().replace(/-/g, "");
    const reply = new Promise<ConsoleLogReply | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.#pendingLogs.delete(req);
        resolve(undefined);
      }, LOG_WAIT_MS);
      this.#pendingLogs.set(req, (r) => {
        clearTimeout(timer);
        this.#pendingLogs.delete(req);
        resolve(r);
      });
    });
    this.#publish({ resource, entryId, session: req }, { type: "log", req });
    return reply;
  }

  #out(resource: string, o: ConsoleOutput): void {
    if (typeof o?.reservation !== "string") return;
    const bytes = typeof o.data === "string" ? fromBase64(o.data) : undefined;
    for (const ws of this.host.ctx.getWebSockets(tag(resource))) {
      const s = ws.deserializeAttachment() as ConsoleSession | null;
      if (s?.entryId !== o.reservation) continue;
      if (o.ended) ws.close(CLOSE.ended, "the booking ended");
      else if (bytes) ws.send(bytes);
    }
  }

  #signingKey(): { key: SigningKey; imported: Promise<CryptoKey | Uint8Array> } | undefined {
    const key = this.host.signingKey();
    if (!key) return undefined;
    const text = JSON.stringify(key.jwk);
    if (this.#key?.text !== text) this.#key = { text, key: importJWK(key.jwk, "EdDSA") };
    return { key, imported: this.#key.key };
  }

  /** Signs and publishes in call order: the agent refuses a seq that is not above the last. */
  #publish(s: Pick<ConsoleSession, "resource" | "entryId" | "session">, m: Pick<ConsoleInput, "type" | "data" | "req">): void {
    const run = this.#chain.then(async () => {
      const prefix = this.host.prefix();
      const k = this.#signingKey();
      if (!prefix || !k) throw new Error("console needs MQTT and SCHEDULE_SIGNING_KEY");
      this.#seq = nextConsoleSeq(this.#seq, Date.now());
      const input: ConsoleInput = { v: 1, resource: s.resource, reservation: s.entryId, session: s.session, seq: this.#seq, ...m };
      const jws = await signConsoleInput(input, k.key, await k.imported);
      this.host.send(consoleTopics(prefix, s.resource).in, jws);
    });
    this.#chain = run.catch((e) => log.warn("console input not sent", { error: (e as Error).message }));
  }
}
