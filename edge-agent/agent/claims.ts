import type { MqttClient } from "mqtt";
import type { Topics } from "./topics.ts";

/**
 * Remote exclusion: two agents (on two hosts) configured for one resource
 * must not both drive it. Each agent that serves a resource publishes its id
 * retained on `…/resources/<r>/agent`. A resource whose retained claim names
 * another agent whose retained status is `online` is refused (not enforced,
 * reported) until that agent goes `offline` (its last will), then claimed.
 * Decisions wait `settleMs` after subscribing so retained messages arrive.
 * Until the broker has answered, an agent enforces what its own state file
 * says it served before (the local lock already excludes a second process).
 */
export class Claims {
  private claimOf = new Map<string, string>();
  private statusOf = new Map<string, string>();
  private settled = false;
  private timer: NodeJS.Timeout | undefined;
  private mine = new Set<string>();

  constructor(
    private readonly agent: string,
    private readonly resources: readonly string[],
    private readonly t: Topics,
    private readonly onChange: (resource: string, servedBy: string | null) => void,
    private readonly settleMs = 300,
  ) {}

  topics(): string[] {
    return [...this.resources.map((r) => this.t.claim(r)), this.t.anyStatus];
  }

  connected(client: MqttClient): void {
    this.settled = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.settled = true;
      this.evaluate(client);
    }, this.settleMs);
  }

  /** Returns true when the message was a claim/status message. */
  message(client: MqttClient, topic: string, payload: Buffer): boolean {
    const text = payload.toString("utf8");
    const r = this.resources.find((x) => this.t.claim(x) === topic);
    if (r !== undefined) {
      if (text) this.claimOf.set(r, text); else this.claimOf.delete(r);
    } else {
      const m = /\/agents\/([^/]+)\/status$/.exec(topic);
      if (!m) return false;
      this.statusOf.set(m[1]!, text);
    }
    if (this.settled) this.evaluate(client);
    return true;
  }

  /** The other online agent serving `r`, if any. */
  contender(r: string): string | undefined {
    const c = this.claimOf.get(r);
    return c !== undefined && c !== this.agent && this.statusOf.get(c) === "online" ? c : undefined;
  }

  private evaluate(client: MqttClient): void {
    for (const r of this.resources) {
      const other = this.contender(r);
      if (other !== undefined) {
        if (this.mine.has(r) || !this.decided.has(r)) this.onChange(r, other);
        this.mine.delete(r);
      } else {
        if (this.claimOf.get(r) !== this.agent) client.publish(this.t.claim(r), this.agent, { qos: 1, retain: true });
        if (!this.mine.has(r)) this.onChange(r, null);
        this.mine.add(r);
      }
      this.decided.add(r);
    }
  }
  private decided = new Set<string>();

  stop(): void {
    clearTimeout(this.timer);
  }
}
