import type { Logger } from "../../../log.ts";
import type { ExecFn } from "../../deps.ts";
import type { StepVars } from "../substitute.ts";

/** What a step runs with: the reservation's values and a way to show progress. */
export interface StepContext {
  vars: StepVars;
  log: Logger;
  signal?: AbortSignal;
  progress(fraction: number, message?: string): void;
}

/**
 * One way of changing a device's physical state (a PDU outlet, a GPIO line, a
 * console, a program). Parameters come from the step, already validated against
 * `paramsSchema` at config time.
 */
export interface Actuator<P = unknown> {
  readonly type: string;
  /** Says what `act` would do, for logs, `--check` and simulation. */
  describe(params: P, vars: StepVars): string;
  act(params: P, ctx: StepContext): Promise<void>;
  /**
   * Reads the state back, where the hardware can tell. Its parameters are the
   * device's `read.parameters`, checked against `readParamsSchema`.
   */
  read?(params: unknown, ctx: StepContext): Promise<string>;
}

export interface ActuatorDeps {
  log: Logger;
  exec: ExecFn;
}
