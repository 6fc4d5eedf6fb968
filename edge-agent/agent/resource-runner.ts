import type { Schedule, ScheduleEntry } from "../../calendar/schedule/schedule.ts";
import type { AgentEvent, Driver, DriverContext } from "../drivers/driver.ts";
import type { Logger } from "../log.ts";
import { activeEntry, nextBoundary, type ExpiryPolicy } from "./active-entry.ts";
import type { ResourceState } from "./state.ts";

/** A driver as the agent sees it: `endingSoon` is the notify reminder hook. */
export type AgentDriver = Driver & { endingSoon?(entry: ScheduleEntry, ctx: DriverContext): Promise<void> };

export interface RunnerOptions {
  resource: string;
  drivers: AgentDriver[];
  state: ResourceState;
  policy: ExpiryPolicy;
  endingSoonMs: number;
  simulate: boolean;
  log: Logger;
  emit(ev: AgentEvent): void;
  /** Persists the whole agent state (atomically). */
  persist(): Promise<void>;
  /** After every change: the summary for `labhog status` (awaited, so it is current when `enforced` is emitted). */
  changed(): Promise<void>;
  /** Longest sleep between checks, a guard against wall-clock jumps. */
  maxSleepMs?: number;
}

/**
 * Enforces one resource by its own clock: at every boundary of the accepted
 * schedule (start, end, reminder, expiry) it computes the reservation that
 * should be active and applies/releases the drivers to match. The broker is
 * not needed for that: timers run on the schedule already accepted.
 */
export class ResourceRunner {
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private appliedFp: string | null = null;
  private reminded = new Set<string>();
  private expiredNoted = false;
  /** False while another online agent claims the resource. */
  private served = true;
  private stopped = false;
  readonly ctx: Record<string, DriverContext> = {};

  constructor(private readonly o: RunnerOptions) {
    for (const d of o.drivers) {
      const log = o.log.child({ resource: o.resource, driver: d.name });
      this.ctx[d.name] = { resource: o.resource, log, simulate: o.simulate, emit: (ev) => o.emit({ ...ev, resource: o.resource, driver: d.name }) };
    }
  }

  get state(): ResourceState {
    return this.o.state;
  }

  get active(): ScheduleEntry | null {
    const id = this.o.state.active;
    return id === null ? null : (this.o.state.schedule?.entries.find((e) => e.id === id) ?? null);
  }

  /** Start-up: hand drivers their saved state, then undo what no longer holds and re-apply what does. */
  async start(): Promise<void> {
    for (const d of this.o.drivers) await d.restore?.(this.o.state.drivers[d.name], this.ctx[d.name]!);
    if (this.o.state.schedule) await this.each("scheduleChanged", (d, c) => d.scheduleChanged?.(this.o.state.schedule!.entries, c));
    await this.reconcile(true);
  }

  accept(s: Schedule): Promise<void> {
    return this.serialize(async () => {
      this.o.state.schedule = s;
      this.o.state.lastSeq = s.seq;
      this.expiredNoted = false;
      await this.o.persist();
      this.o.emit({ resource: this.o.resource, driver: "agent", action: "schedule-accepted", ok: true, message: `seq ${s.seq}, ${s.entries.length} entr${s.entries.length === 1 ? "y" : "ies"}, valid until ${s.validUntil}` });
      await this.each("scheduleChanged", (d, c) => d.scheduleChanged?.(s.entries, c));
    }).then(() => this.reconcile(false));
  }

  setServed(served: boolean): Promise<void> {
    if (this.served === served) return Promise.resolve();
    this.served = served;
    return this.reconcile(false);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private serialize(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch((e) => this.o.log.error("reconcile failed", { resource: this.o.resource, error: e as Error }));
    return next;
  }

  /** Runs one hook on every driver; a failing driver is reported and the others still run. */
  private async each(hook: string, fn: (d: AgentDriver, c: DriverContext) => Promise<void> | undefined, reverse = false): Promise<void> {
    const list = reverse ? [...this.o.drivers].reverse() : this.o.drivers;
    for (const d of list) {
      try {
        await fn(d, this.ctx[d.name]!);
      } catch (e) {
        this.o.log.error("driver failed", { resource: this.o.resource, driver: d.name, hook, error: e as Error });
        this.o.emit({ resource: this.o.resource, driver: d.name, action: hook, ok: false, message: (e as Error).message });
      }
    }
  }

  reconcile(force: boolean): Promise<void> {
    return this.serialize(async () => {
      if (this.stopped) return;
      const now = Date.now();
      const s = this.o.state.schedule;
      const desired = this.served ? activeEntry(s, now, this.o.policy) : null;
      const fp = desired ? JSON.stringify(desired) : null;
      if (s && now >= Date.parse(s.validUntil) && !this.expiredNoted) {
        this.expiredNoted = true;
        this.o.emit({ resource: this.o.resource, driver: "agent", action: "schedule-expired", ok: true, message: `no schedule newer than seq ${s.seq}; policy ${this.o.policy}` });
      }
      if (force || fp !== this.appliedFp) {
        const prev = this.o.state.active;
        // Record the intent first: after a crash, start-up re-applies or releases from here (both idempotent).
        this.o.state.active = desired?.id ?? null;
        await this.o.persist();
        // At start-up release runs even when nothing was recorded active: it clears leftovers.
        if ((prev !== null && prev !== desired?.id) || (force && !desired)) await this.each("release", (d, c) => d.release(c), true);
        if (desired) await this.each("apply", (d, c) => d.apply(desired, c));
        this.appliedFp = fp;
        await this.saveDrivers();
        await this.o.changed();
        this.o.emit({
          resource: this.o.resource,
          driver: "agent",
          action: "enforced",
          ok: true,
          message: desired ? `${desired.exclusive ? "held" : "shared"} by ${desired.holder.id} until ${desired.end}` : this.served ? "free" : "not served here",
          ...(desired ? { holder: desired.holder.id, reservation: desired.id } : {}),
        });
      }
      if (desired && now >= Date.parse(desired.end) - this.o.endingSoonMs && !this.reminded.has(desired.id)) {
        this.reminded.add(desired.id);
        await this.each("endingSoon", (d, c) => d.endingSoon?.(desired, c));
      }
      this.arm(now);
    });
  }

  async saveDrivers(): Promise<void> {
    for (const d of this.o.drivers) if (d.state) this.o.state.drivers[d.name] = d.state();
    await this.o.persist();
  }

  private arm(now: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const next = nextBoundary(this.o.state.schedule, now, this.o.endingSoonMs);
    const max = this.o.maxSleepMs ?? 30_000;
    const delay = next === undefined ? max : Math.min(max, Math.max(0, next - now + 1));
    this.timer = setTimeout(() => void this.reconcile(false), delay);
  }
}
