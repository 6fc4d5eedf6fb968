import { mkdir } from "node:fs/promises";
import type { MqttClient } from "mqtt";
import { ScheduleRejectedError, verifySchedule } from "../../calendar/schedule/schedule.ts";
import type { AgentConfig } from "../config/agent-config.ts";
import type { AgentEvent } from "../drivers/driver.ts";
import { createLogger, type Logger } from "../log.ts";
import { buildDrivers, endingSoonMs } from "./build-drivers.ts";
import { Claims } from "./claims.ts";
import { loadDriverModules, type DriverModules } from "./driver-modules.ts";
import { connectBroker } from "./mqtt-link.ts";
import { ResourceLocks } from "./resource-lock.ts";
import { ResourceRunner } from "./resource-runner.ts";
import { StateStore, type AgentState } from "./state.ts";
import { resourceSummary, writeSummary } from "./summary.ts";
import { topics, type Topics } from "./topics.ts";
import { UsagePublisher } from "./usage-publisher.ts";
import type { Enforcement } from "./enforcement.ts";
import type { UsageCollectorLike } from "./driver-modules.ts";
import type { MqttPort } from "../drivers/console/index.ts";
import { isMqttListener, type MqttListener } from "./mqtt-listener.ts";

export type TimedEvent = AgentEvent & { time: string; agent: string };

export interface AgentOptions {
  config: AgentConfig;
  simulate?: boolean;
  log?: Logger;
  modules?: DriverModules;
  /** Every event, as published (tests and the CLI's --simulate output). */
  onEvent?: (ev: TimedEvent) => void;
  claimSettleMs?: number;
}

const maxScheduleBytes = 4 * 1024 * 1024;

/**
 * The daemon: restores and re-checks what it enforced before (no broker
 * needed), then connects, accepts verified schedules and lets one
 * ResourceRunner per resource enforce them by the local clock.
 */
export class Agent {
  readonly cfg: AgentConfig;
  readonly t: Topics;
  readonly log: Logger;
  readonly runners = new Map<string, ResourceRunner>();
  private readonly store: StateStore;
  private readonly locks: ResourceLocks;
  private state!: AgentState;
  private client: MqttClient | undefined;
  private claims: Claims | undefined;
  private intake: Promise<void> = Promise.resolve();
  private usage: UsagePublisher | undefined;
  private contested = new Map<string, string>();
  private ready: Promise<void> = Promise.resolve();
  /** Drivers with topics of their own (the console): subscribed on every connect, handed their messages. */
  private readonly listeners: MqttListener[] = [];

  constructor(private readonly o: AgentOptions) {
    this.cfg = o.config;
    this.log = o.log ?? createLogger({ base: { agent: o.config.agent } });
    this.t = topics(this.cfg.topicPrefix, this.cfg.agent);
    this.store = new StateStore(this.cfg.stateDir);
    this.locks = new ResourceLocks(this.cfg.stateDir, this.cfg.agent);
  }

  emit(ev: AgentEvent): void {
    const full: TimedEvent = { time: new Date().toISOString(), agent: this.cfg.agent, ...ev };
    (ev.ok ? this.log.info : this.log.warn)(`${ev.driver} ${ev.action}`, { event: full });
    this.o.onEvent?.(full);
    this.client?.publish(this.t.events, JSON.stringify(full), { qos: 0 });
  }

  async start(): Promise<void> {
    await mkdir(this.cfg.stateDir, { recursive: true, mode: 0o755 });
    // Local exclusion first: a second process on this host must not touch anything.
    for (const r of this.cfg.resources) await this.locks.acquire(r.id);
    this.state = await this.store.load(this.cfg.agent);
    const mods = this.o.modules ?? (await loadDriverModules());
    const simulate = this.o.simulate ?? false;
    const persist = () => this.store.save(this.state);
    const collectors: { resource: string; collector: UsageCollectorLike }[] = [];
    for (const r of this.cfg.resources) {
      const st = (this.state.resources[r.id] ??= { active: null, drivers: {} });
      let runner!: ResourceRunner;
      const built = buildDrivers(this.cfg, r, mods, { simulate, log: this.log, checkpoint: () => runner.saveDrivers(), mqtt: this.mqttPort() });
      for (const d of built.drivers) if (isMqttListener(d)) this.listeners.push(d);
      runner = new ResourceRunner({
        resource: r.id,
        drivers: built.drivers,
        state: st,
        policy: this.cfg.onScheduleExpiry,
        endingSoonMs: endingSoonMs(this.cfg),
        simulate,
        log: this.log,
        emit: (ev) => this.emit(ev),
        persist,
        changed: () => this.writeSummary().catch((e) => this.log.warn("cannot write status summary", { error: e as Error })),
        advisory: built.advisory,
        enforced: () => {
          this.publishEnforcement();
          // What the drivers just did (power on, a device bound) belongs in the usage snapshot now, not at the next idle tick.
          this.usage?.wake(r.id);
        },
      });
      this.runners.set(r.id, runner);
      if (built.usage) collectors.push({ resource: r.id, collector: built.usage });
    }
    // Connect at once (events and `online` are queued by MQTT.js until connected), but take
    // schedules only after start-up recovery: intake is chained behind it.
    this.claims = new Claims(this.cfg.agent, [...this.runners.keys()], this.t, (r, other) => void this.ready.then(() => this.onClaim(r, other)), this.o.claimSettleMs);
    this.client = connectBroker(this.cfg, this.t, this.log, {
      onConnect: (c) => {
        const subs = [...[...this.runners.keys()].map((r) => this.t.schedule(r)), ...this.claims!.topics(), ...this.listeners.flatMap((l) => l.topics())];
        c.subscribe(subs, { qos: 1 }, (err) => {
          if (err) this.log.error("subscribe failed", { error: err });
          else {
            this.claims!.connected(c);
            for (const l of this.listeners) l.connected();
          }
        });
        this.publishEnforcement();
      },
      onMessage: (topic, payload) => this.onMessage(topic, payload),
    });
    const recovered = (async () => {
      for (const runner of this.runners.values()) await runner.start();
    })();
    this.ready = recovered.catch(() => {});
    this.intake = this.ready;
    await recovered;
    this.emit({ resource: "*", driver: "agent", action: "started", ok: true, message: `${simulate ? "simulating; " : ""}serving ${[...this.runners.keys()].join(", ")}` });
    if (collectors.length) {
      this.usage = new UsagePublisher(this.cfg, this.t, collectors, this.log, () => this.client);
      this.usage.start();
    }
  }

  /** Publishing for drivers that talk MQTT themselves; the client is read at call time (it connects after the drivers are built). */
  private mqttPort(): MqttPort {
    return {
      prefix: this.cfg.topicPrefix,
      agent: this.cfg.agent,
      stateDir: this.cfg.stateDir,
      trustedKeys: this.cfg.trustedKeys,
      publish: (topic, payload, o) => void this.client?.publish(topic, payload, o),
    };
  }

  private async onClaim(resource: string, other: string | null): Promise<void> {
    const runner = this.runners.get(resource)!;
    if (other !== null) {
      this.contested.set(resource, other);
      this.emit({ resource, driver: "agent", action: "refused", ok: false, message: `agent ${other} is online and serves ${resource}; not enforcing it here` });
    } else if (this.contested.delete(resource)) {
      this.emit({ resource, driver: "agent", action: "claimed", ok: true, message: `serving ${resource}` });
    }
    await runner.setServed(other === null);
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (this.claims && this.client && this.claims.message(this.client, topic, payload)) return;
    for (const l of this.listeners) if (l.message(topic, payload)) return;
    const resource = [...this.runners.keys()].find((r) => this.t.schedule(r) === topic);
    if (resource === undefined || payload.length === 0) return;
    // One at a time, so two copies of a message cannot both pass the seq check.
    this.intake = this.intake.then(() => this.receive(resource, payload)).catch((e) => this.log.error("schedule intake failed", { error: e as Error }));
  }

  private async receive(topicResource: string, payload: Buffer): Promise<void> {
    try {
      if (payload.length > maxScheduleBytes) throw new ScheduleRejectedError("malformed", `schedule of ${payload.length} bytes is too large`);
      const schedule = await verifySchedule(payload.toString("utf8").trim(), {
        keys: this.cfg.trustedKeys,
        resources: [topicResource],
        lastSeq: (r) => this.state.resources[r]?.lastSeq,
      });
      await this.runners.get(schedule.resource)!.accept(schedule);
    } catch (e) {
      const reason = e instanceof ScheduleRejectedError ? e.reason : "error";
      this.emit({ resource: topicResource, driver: "agent", action: "schedule-rejected", ok: false, message: `${reason}: ${(e as Error).message}` });
    }
  }

  /**
   * Retained on …/agents/<agent>/enforcement: the latest verdict of every
   * resource that has one, so a Worker that (re)starts learns it at once.
   */
  private publishEnforcement(): void {
    const resources: Record<string, Enforcement> = {};
    for (const [id, r] of this.runners) if (r.enforcement) resources[id] = r.enforcement;
    if (!Object.keys(resources).length) return;
    this.client?.publish(this.t.enforcement, JSON.stringify({ agent: this.cfg.agent, at: new Date().toISOString(), resources }), { qos: 1, retain: true });
  }

  async writeSummary(): Promise<void> {
    const now = Date.now();
    const resources = [...this.runners.entries()].map(([id, r]) => resourceSummary(id, !this.contested.has(id), r.active, r.state.schedule?.entries ?? [], now, r.enforcement));
    const s: Parameters<typeof writeSummary>[1] = { agent: this.cfg.agent, site: this.cfg.site, updatedAt: new Date(now).toISOString(), resources };
    if (this.cfg.statusUrl !== undefined) s.statusUrl = this.cfg.statusUrl;
    await writeSummary(this.cfg.stateDir, s);
  }

  /** Stops timers and the broker connection; what is enforced stays (a restart picks it up). */
  async stop(): Promise<void> {
    for (const r of this.runners.values()) r.stop();
    this.claims?.stop();
    this.usage?.stop();
    await this.intake;
    const c = this.client;
    if (c) {
      await new Promise<void>((resolve) => {
        if (!c.connected) return resolve();
        c.publish(this.t.status, "offline", { qos: 1, retain: true }, () => resolve());
        setTimeout(resolve, 1000).unref();
      });
      await c.endAsync(true).catch(() => {});
    }
    await this.locks.releaseAll();
  }
}
