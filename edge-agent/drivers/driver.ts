import type { ScheduleEntry, ScheduleNotice } from "../../calendar/schedule/schedule.ts";
import type { Logger } from "../log.ts";

/**
 * What the agent tells the world it did (published on …/agents/<agent>/events
 * and logged). `progress` is 0..1 for long work such as flashing.
 */
export interface AgentEvent {
  resource: string;
  driver: string;
  action: string;
  ok: boolean;
  message?: string;
  progress?: number;
  holder?: string;
  reservation?: string;
  /** On the agent's `enforced` event: what is not in place (empty when ok). */
  problems?: string[];
  /** On a failed `enforced` event: when the agent tries again. */
  retryInMs?: number;
}

export interface DriverContext {
  resource: string;
  log: Logger;
  /** Dry run: log and report what would be done, touch nothing. */
  simulate: boolean;
  emit(event: Omit<AgentEvent, "resource" | "driver">): void;
}

/**
 * One enforcement concern for one resource (hog, usb, power, notify…).
 * The agent calls `apply` when a reservation becomes the active one and
 * `release` when none is; both must be idempotent, because after a crash
 * the agent re-applies what holds and releases what does not.
 * `state()` is persisted atomically by the agent and handed back to
 * `restore()` at start-up so a driver can undo what no longer holds.
 *
 * Failures: a driver reports one by throwing from apply/release or by
 * emitting an event with `ok: false` (during the call or later, e.g. from a
 * watcher). Either makes the agent publish `enforced` with `ok: false` and
 * call apply/release again with backoff. A driver that reports a failure
 * only once (and stays silent on a retry that fails the same way) must list
 * it in `problems()`, or the silent retry would count as a success.
 */
export interface Driver {
  readonly name: string;
  apply(entry: ScheduleEntry, ctx: DriverContext): Promise<void>;
  release(ctx: DriverContext): Promise<void>;
  /** Schedule changed (any entry), e.g. for motd / notifications; `notices` are the signed schedule's notices. Optional. */
  scheduleChanged?(entries: readonly ScheduleEntry[], ctx: DriverContext, notices?: readonly ScheduleNotice[]): Promise<void>;
  /** JSON-safe state to persist. */
  state?(): unknown;
  /** Called once at start-up with the state persisted before a crash or reboot. */
  restore?(saved: unknown, ctx: DriverContext): Promise<void>;
  /** What this driver knows is not in place right now (asked after every apply/release). Optional. */
  problems?(): string[];
}

/** A driver that can also report what it sees for the usage snapshot. */
export interface UsageSource {
  readonly name: string;
  collect(): Promise<Record<string, unknown>>;
}
