import { join } from "node:path";
import type { JWK } from "jose";
import { z } from "zod";
import { UnavailableError, ValidationError } from "../../../calendar/errors.ts";
import type { ScheduleEntry } from "../../../calendar/schedule/schedule.ts";
import type { Driver, DriverContext } from "../driver.ts";
import type { Deps } from "../deps.ts";
import { consoleConfigSchema, devicePathOf, type ConsoleConfig, type ConsoleConfigInput } from "./config.ts";
import { ConsoleLog } from "./log.ts";
import {
  ConsoleRejectedError,
  consoleTopics,
  fromBase64,
  toBase64,
  verifyConsoleInput,
  type ConsoleInput,
  type ConsoleLogReply,
  type ConsoleOutput,
  type ConsoleState,
} from "./message.ts";
import { openPort, type ConsolePort } from "./port.ts";

export { consoleConfigSchema, type ConsoleConfig, type ConsoleConfigInput } from "./config.ts";

/** What the agent gives drivers that talk MQTT themselves (the console). */
export interface MqttPort {
  prefix: string;
  agent: string;
  stateDir: string;
  trustedKeys: Record<string, JWK>;
  publish(topic: string, payload: string | Buffer, opts: { qos: 0 | 1; retain?: boolean }): void;
}

export interface ConsoleDeps extends Deps {
  resource: string;
  mqtt: MqttPort;
  /** Injected for tests; default: the `serialport` package. */
  open?: (cfg: ConsoleConfig) => Promise<ConsolePort>;
}

export interface ConsoleDriver extends Driver {
  /** Topics the agent subscribes to for this driver on every (re)connect. */
  topics(): string[];
  /** Called after every (re)connect's subscription. */
  connected(): void;
  /** A message on one of `topics()`; false when it is not this driver's. */
  message(topic: string, payload: Buffer): boolean;
  /** The writer session and active reservation (tests, status). */
  inspect(): { reservation?: string; writer?: string; open: boolean };
}

export function parseConsoleConfig(input: unknown): ConsoleConfig {
  const r = consoleConfigSchema.safeParse(input);
  if (!r.success) throw new ValidationError(`invalid console config:\n${z.prettifyError(r.error)}`, { issues: r.error.issues });
  return r.data;
}

/**
 * The board's serial console for the holder, from anywhere: while a booking
 * runs the agent holds the port (exclusively: TIOCEXCL, so nobody on the
 * host opens it meanwhile), sends what the board writes to console/out and
 * writes to the board what arrives on console/in, signed by the Worker's
 * schedule key for the active reservation (see docs/security.md). One
 * session writes at a time: the last to `open`. Every byte both ways lands
 * in the reservation's log under stateDir, which the holder can fetch
 * during and after the booking (an input of type `log`).
 *
 * The port is opened at apply and closed at release, so power-sequence
 * serial steps (which run before, at the booking's start) and people on
 * the host between bookings can use it.
 */
export function createConsoleDriver(input: ConsoleConfigInput | ConsoleConfig, deps: ConsoleDeps): ConsoleDriver {
  const cfg = parseConsoleConfig(input);
  const t = consoleTopics(deps.mqtt.prefix, deps.resource);
  const logDir = join(deps.mqtt.stateDir, "console", deps.resource);
  const open = deps.open ?? openPort;
  let active: ScheduleEntry | undefined;
  let port: ConsolePort | undefined;
  let log: ConsoleLog | undefined;
  let writer: string | undefined;
  let lastSeq = 0;
  let problems: string[] = [];
  let chain: Promise<unknown> = Promise.resolve();
  let ctxOf: DriverContext | undefined;

  const publishOut = (o: ConsoleOutput) => deps.mqtt.publish(t.out, JSON.stringify(o), { qos: 0 });

  const isActive = (reservation: string) => active !== undefined && active.id === reservation && Date.now() < Date.parse(active.end);

  async function close(): Promise<void> {
    const p = port;
    port = undefined;
    if (p) await p.close().catch((e) => deps.log.warn("console close failed", { error: e as Error }));
  }

  async function handle(m: ConsoleInput): Promise<void> {
    if (m.type === "log") {
      const text = await ConsoleLog.read(logDir, m.reservation);
      const reply: ConsoleLogReply = { req: m.req ?? "", reservation: m.reservation, found: text !== undefined, ...(text !== undefined ? { log: text } : {}) };
      if (m.req) deps.mqtt.publish(t.log(m.req), JSON.stringify(reply), { qos: 1 });
      return;
    }
    // The signed schedule is the authority: input for anything but the booking running now is dropped.
    if (!isActive(m.reservation)) {
      deps.log.warn("console input for a reservation that is not active here: dropped", { reservation: m.reservation, type: m.type });
      return;
    }
    if (m.type === "open") {
      writer = m.session;
      return;
    }
    if (m.type === "close") {
      if (writer === m.session) writer = undefined;
      return;
    }
    // A session whose `open` came before the booking was applied here (the schedule and the
    // socket race at the start) writes as long as no later session has opened.
    if (writer === undefined) writer = m.session;
    if (m.session !== writer || !m.data) return;
    const bytes = fromBase64(m.data);
    if (!port) {
      ctxOf?.emit({ action: "input", ok: false, reservation: m.reservation, message: `console ${devicePathOf(cfg)} is not open; ${bytes.length} bytes dropped` });
      return;
    }
    await log?.append(">", bytes);
    await port.write(bytes);
  }

  async function onInput(payload: Buffer): Promise<void> {
    try {
      const m = await verifyConsoleInput(payload.toString("utf8").trim(), { keys: deps.mqtt.trustedKeys, resource: deps.resource, lastSeq });
      lastSeq = m.seq;
      await handle(m);
    } catch (e) {
      const reason = e instanceof ConsoleRejectedError ? e.reason : "error";
      deps.log.warn("console input refused", { reason, error: (e as Error).message });
    }
  }

  const driver: ConsoleDriver = {
    name: "console",
    async apply(entry, ctx) {
      ctxOf = ctx;
      const changed = active?.id !== entry.id;
      if (changed && active) publishOut({ reservation: active.id, ended: true });
      active = entry;
      if (changed) {
        writer = undefined;
        await log?.flushed();
        log = new ConsoleLog(logDir, entry.id, cfg.logMaxBytes);
        await ConsoleLog.prune(logDir, cfg.keepLogs).catch(() => undefined);
      }
      if (deps.simulate) {
        ctx.emit({ action: "open", ok: true, message: `would open ${devicePathOf(cfg)} at ${cfg.baudRate} baud for ${entry.holder.id}` });
        return;
      }
      if (port) {
        problems = [];
        return;
      }
      try {
        port = await open(cfg);
      } catch (e) {
        problems = [`console ${devicePathOf(cfg)}: ${(e as Error).message}`];
        throw new UnavailableError(`cannot open console ${devicePathOf(cfg)}: ${(e as Error).message}`, undefined, { cause: e });
      }
      problems = [];
      const current = log!;
      const reservation = entry.id;
      port.onData((b) => {
        if (active?.id !== reservation) return;
        void current.append("<", b).catch((e) => deps.log.warn("console log write failed", { error: e as Error }));
        publishOut({ reservation, data: toBase64(b) });
      });
      port.onClose((err) => {
        if (!err) return;
        port = undefined;
        problems = [`console ${devicePathOf(cfg)} closed: ${err.message}`];
        ctx.emit({ action: "closed", ok: false, reservation, message: problems[0]! });
      });
      await current.note(`console ${devicePathOf(cfg)} opened at ${cfg.baudRate} baud ${cfg.dataBits}${cfg.parity[0]!.toUpperCase()}${cfg.stopBits} for ${entry.holder.id}`);
      ctx.emit({ action: "open", ok: true, holder: entry.holder.id, reservation, message: `console ${devicePathOf(cfg)} open for ${entry.holder.id}` });
    },
    async release(ctx) {
      ctxOf = ctx;
      const was = active;
      active = undefined;
      writer = undefined;
      await close();
      if (was) {
        publishOut({ reservation: was.id, ended: true });
        await log?.note("console closed: the booking ended");
        await log?.flushed();
      }
      problems = [];
    },
    problems: () => problems,
    topics: () => [t.in],
    connected() {
      const s: ConsoleState = { available: true, agent: deps.mqtt.agent };
      deps.mqtt.publish(t.state, JSON.stringify(s), { qos: 1, retain: true });
    },
    message(topic, payload) {
      if (topic !== t.in) return false;
      if (payload.length === 0 || payload.length > 128 * 1024) return true;
      // In arrival order: seq checks and writes must not overtake each other.
      chain = chain.then(() => onInput(payload));
      return true;
    },
    inspect: () => ({ open: port !== undefined, ...(active ? { reservation: active.id } : {}), ...(writer ? { writer } : {}) }),
  };
  return driver;
}
