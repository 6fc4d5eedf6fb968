import type { Schedule, ScheduleEntry } from "../../calendar/schedule/schedule.ts";
import type { AgentEvent, Driver, DriverContext } from "../drivers/driver.ts";
import type { Logger } from "../log.ts";
import { activeEntry, nextBoundary, type ExpiryPolicy } from "./active-entry.ts";
import { nextEnforcement, retryDelayMs, type Enforcement } from "./enforcement.ts";
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
  /** Drivers whose failures are reported but do not make the booking "not enforced" (notify only tells people). */
  advisory?: ReadonlySet<string>;
  /** After every verdict (each attempt, and each failure a driver reports between attempts), before `enforced` is emitted. */
  enforced?(e: Enforcement): void;
}

type Target = Pick<Enforcement, "state" | "reservation" | "holder" | "end">;
const targetOf = (e: Enforcement): Target => ({
  state: e.state,
  ...(e.reservation !== undefined ? { reservation: e.reservation } : {}),
  ...(e.holder !== undefined ? { holder: e.holder } : {}),
  ...(e.end !== undefined ? { end: e.end } : {}),
});

/** Where a driver's `ok: false` comes from: an attempt counts, a reminder does not, anything else is a late failure. */
type Phase = "idle" | "attempt" | "notice";

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
  private phase: Phase = "idle";
  /** Failures drivers reported during the current attempt. */
  private attemptProblems: string[] = [];
  /** Failed attempts in a row; the retry backoff grows with it. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private enf: Enforcement | null = null;
  /** Attempts started so far: a failure reported before the latest attempt is that attempt's to judge. */
  private attempts = 0;

  constructor(private readonly o: RunnerOptions) {
    for (const d of o.drivers) {
      const log = o.log.child({ resource: o.resource, driver: d.name });
      this.ctx[d.name] = {
        resource: o.resource,
        log,
        simulate: o.simulate,
        emit: (ev) => {
          o.emit({ ...ev, resource: o.resource, driver: d.name });
          if (!ev.ok) this.driverFailed(d.name, ev.message ?? ev.action);
        },
      };
    }
  }

  /** The latest verdict; null until the first attempt. */
  get enforcement(): Enforcement | null {
    return this.enf;
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
    if (this.o.state.schedule) await this.noticing(() => this.each("scheduleChanged", (d, c) => d.scheduleChanged?.(this.o.state.schedule!.entries, c, this.o.state.schedule!.notices ?? [])));
    await this.reconcile(true);
  }

  accept(s: Schedule): Promise<void> {
    return this.serialize(async () => {
      this.o.state.schedule = s;
      this.o.state.lastSeq = s.seq;
      this.expiredNoted = false;
      // A new schedule restarts the backoff: a failing booking is tried again at once.
      this.failures = 0;
      await this.noticing(() => this.each("scheduleChanged", (d, c) => d.scheduleChanged?.(s.entries, c, s.notices ?? [])));
      // What drivers remember from it (notices already sent) goes into the same write as the schedule, and that
      // write is the reconcile's record of intent when the schedule changes what is enforced: one fsync'd write,
      // not three. A crash before it loses nothing the broker does not hold (the schedule is retained).
      this.copyDriverState();
      const accepted = () => this.o.emit({ resource: this.o.resource, driver: "agent", action: "schedule-accepted", ok: true, message: `seq ${s.seq}, ${s.entries.length} entr${s.entries.length === 1 ? "y" : "ies"}, valid until ${s.validUntil}` });
      await this.reconcileNow(false, this.enf?.ok === false, accepted);
    });
  }

  setServed(served: boolean): Promise<void> {
    if (this.served === served) return Promise.resolve();
    this.served = served;
    return this.reconcile(false);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
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
        this.driverFailed(d.name, `${hook} failed: ${(e as Error).message}`);
      }
    }
  }

  /** Reminders and schedule announcements: a failure there is reported, but the booking is still in place. */
  private async noticing(fn: () => Promise<void>): Promise<void> {
    this.phase = "notice";
    try {
      await fn();
    } finally {
      this.phase = "idle";
    }
  }

  private driverFailed(driver: string, message: string): void {
    if (this.o.advisory?.has(driver) || this.phase === "notice") return;
    const problem = `${driver}: ${message}`;
    if (this.phase === "attempt") {
      this.attemptProblems.push(problem);
      return;
    }
    // Between attempts (a watcher, a grace timer): the booking is no longer fully in place.
    const seen = this.attempts;
    void this.serialize(async () => {
      if (this.stopped || !this.enf || this.attempts !== seen || this.enf.problems.includes(problem)) return;
      const e = this.enf;
      const first = e.ok;
      if (first) this.failures = 1;
      await this.settle([...e.problems, problem], targetOf(e), first || this.retryTimer === undefined);
      this.emitEnforced();
    });
  }

  /** What the drivers report as still not in place after an attempt (their `problems()`). */
  private standingProblems(): string[] {
    const out: string[] = [];
    for (const d of this.o.drivers) {
      if (!d.problems || this.o.advisory?.has(d.name)) continue;
      try {
        for (const p of d.problems()) out.push(`${d.name}: ${p}`);
      } catch (e) {
        out.push(`${d.name}: cannot tell what is in place: ${(e as Error).message}`);
      }
    }
    return out;
  }

  /** Records a verdict: on failure the next attempt is armed with backoff (when `arm`), on success the backoff resets. */
  private async settle(problems: string[], target: Target, arm: boolean): Promise<void> {
    const now = Date.now();
    let retryAt = this.enf?.retryAt !== undefined ? Date.parse(this.enf.retryAt) : undefined;
    if (problems.length === 0 || arm) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      retryAt = undefined;
    }
    if (problems.length === 0) {
      this.failures = 0;
    } else if (arm) {
      const delay = retryDelayMs(this.failures);
      retryAt = now + delay;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.reconcile(false, true);
      }, delay);
    }
    this.enf = nextEnforcement(this.enf, { problems, ...target, failures: this.failures, ...(retryAt !== undefined ? { retryInMs: Math.max(0, retryAt - now) } : {}) }, now);
    this.o.enforced?.(this.enf);
    // Awaited, so `labhog status` is current when `enforced` goes out.
    await this.o.changed();
  }

  /** The `enforced` event: ok only when the latest verdict has no problems. */
  private emitEnforced(): void {
    const e = this.enf!;
    const what = e.state === "free" ? "free" : e.state === "not-served" ? "not served here" : `${e.state} by ${e.holder} until ${e.end}`;
    const retryInMs = e.retryAt ? Math.max(0, Date.parse(e.retryAt) - Date.parse(e.at)) : undefined;
    this.o.emit({
      resource: this.o.resource,
      driver: "agent",
      action: "enforced",
      ok: e.ok,
      message: e.ok ? what : `${what}; not enforced: ${e.problems.join("; ")}${retryInMs !== undefined ? `; retrying in ${retryInMs / 1000} s` : ""}`,
      ...(e.holder !== undefined ? { holder: e.holder } : {}),
      ...(e.reservation !== undefined ? { reservation: e.reservation } : {}),
      problems: e.problems,
      ...(retryInMs !== undefined ? { retryInMs } : {}),
    });
  }

  /**
   * Brings the drivers in line with the schedule: on a boundary, at start-up
   * (`force`), and as a retry after a failed attempt (`retry`).
   */
  reconcile(force: boolean, retry = false): Promise<void> {
    return this.serialize(() => this.reconcileNow(force, retry));
  }

  /** The reconcile itself, inside the serial queue. `unsaved`: the state holds a new schedule not yet written; called once it is. */
  private async reconcileNow(force: boolean, retry: boolean, unsaved?: () => void): Promise<void> {
    if (this.stopped) {
      if (unsaved) {
        await this.o.persist();
        unsaved();
      }
      return;
    }
    const now = Date.now();
    const s = this.o.state.schedule;
    const desired = this.served ? activeEntry(s, now, this.o.policy) : null;
    const fp = desired ? JSON.stringify(desired) : null;
    if (s && now >= Date.parse(s.validUntil) && !this.expiredNoted) {
      this.expiredNoted = true;
      this.o.emit({ resource: this.o.resource, driver: "agent", action: "schedule-expired", ok: true, message: `no schedule newer than seq ${s.seq}; policy ${this.o.policy}` });
    }
    const again = force || retry;
    if (unsaved && !again && fp === this.appliedFp) {
      // The new schedule changes nothing that is enforced now: only written.
      await this.o.persist();
      unsaved();
    }
    if (again || fp !== this.appliedFp) {
      // Another booking (or none) to enforce: its first failure is retried after the shortest delay.
      if (fp !== this.appliedFp) this.failures = 0;
      const prev = this.o.state.active;
      // Record the intent first: after a crash, start-up re-applies or releases from here (both idempotent).
      this.o.state.active = desired?.id ?? null;
      await this.o.persist();
      unsaved?.();
      this.phase = "attempt";
      this.attempts++;
      this.attemptProblems = [];
      try {
        // At start-up (and on a retry) release runs even when nothing was recorded active: it clears leftovers.
        if ((prev !== null && prev !== desired?.id) || (again && !desired)) await this.each("release", (d, c) => d.release(c), true);
        if (desired) await this.each("apply", (d, c) => d.apply(desired, c));
      } finally {
        this.phase = "idle";
      }
      this.appliedFp = fp;
      await this.saveDrivers();
      const problems = [...this.attemptProblems, ...this.standingProblems()];
      if (problems.length) this.failures++;
      const target: Target = desired
        ? { state: desired.exclusive ? "held" : "shared", holder: desired.holder.id, reservation: desired.id, end: desired.end }
        : { state: this.served ? "free" : "not-served" };
      await this.settle(problems, target, true);
      this.emitEnforced();
    }
    if (desired && now >= Date.parse(desired.end) - this.o.endingSoonMs && !this.reminded.has(desired.id)) {
      this.reminded.add(desired.id);
      await this.noticing(() => this.each("endingSoon", (d, c) => d.endingSoon?.(desired, c)));
    }
    this.arm(now);
  }

  async saveDrivers(): Promise<void> {
    this.copyDriverState();
    await this.o.persist();
  }

  private copyDriverState(): void {
    for (const d of this.o.drivers) if (d.state) this.o.state.drivers[d.name] = d.state();
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
