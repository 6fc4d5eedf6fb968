import type { MqttClient } from "mqtt";
import type { AgentConfig } from "../config/agent-config.ts";
import type { Logger } from "../log.ts";
import type { UsageCollectorLike } from "./driver-modules.ts";
import type { Topics } from "./topics.ts";

/**
 * Publishes usage: each resource's collector reports only changes (and a
 * heartbeat); the agent merges the latest snapshot of every resource and
 * publishes it retained on …/agents/<agent>/usage, and POSTs it to the
 * Worker when `worker.url` is configured.
 */
export class UsagePublisher {
  private stops: (() => void)[] = [];
  private latest: Record<string, unknown> = {};

  constructor(
    private readonly cfg: AgentConfig,
    private readonly t: Topics,
    private readonly collectors: { resource: string; collector: UsageCollectorLike }[],
    private readonly log: Logger,
    private readonly client: () => MqttClient | undefined,
  ) {}

  start(): void {
    for (const { resource, collector } of this.collectors) {
      this.stops.push(collector.start((snap) => {
        this.latest[resource] = snap;
        void this.send();
      }));
    }
  }

  /** Collects this resource's usage now (after enforcement changed something). */
  wake(resource: string): void {
    for (const c of this.collectors) if (c.resource === resource) c.collector.wake?.();
  }

  stop(): void {
    for (const s of this.stops) s();
    this.stops = [];
  }

  private async send(): Promise<void> {
    const body = JSON.stringify({ agent: this.cfg.agent, at: new Date().toISOString(), resources: this.latest });
    this.client()?.publish(this.t.usage, body, { qos: 1, retain: true });
    if (!this.cfg.worker) return;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.cfg.worker.token) headers.authorization = `Bearer ${this.cfg.worker.token}`;
    try {
      const res = await fetch(this.cfg.worker.url, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
      if (!res.ok) this.log.warn("usage POST refused", { status: res.status });
    } catch (e) {
      this.log.warn("usage POST failed", { error: e as Error });
    }
  }
}
