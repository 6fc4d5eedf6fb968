/**
 * A hard cap on the work one calendar object may cost. Every step of rule
 * iteration — including the steps ical.js takes internally while looking for
 * the next match of a rule that may never match — is paid from it, so a
 * hostile RRULE ends in an error instead of a hang. Counting steps (not
 * wall-clock time) also works in workerd, where the clock stands still
 * during synchronous code.
 */
export class IterationCapError extends Error {
  constructor(readonly max: number) {
    super(`recurrence expansion needed more than ${max} iterations`);
    this.name = "IterationCapError";
  }
}

/**
 * Default: a daily series that began 50 years ago fits; a minutely one does
 * not. ical.js needs ~10-25 µs a step on a busy machine, so one hostile object
 * costs well under a second.
 */
export const DEFAULT_MAX_ITERATIONS = 20_000;

export class IterationBudget {
  used = 0;
  constructor(readonly max: number = DEFAULT_MAX_ITERATIONS) {}

  spend(n = 1): void {
    this.used += n;
    if (this.used > this.max) throw new IterationCapError(this.max);
  }
}

/**
 * An IterationBudget as a plain literal: for callers that make one per
 * calendar object on a hot path, whose shape (unlike a class instance's)
 * V8 keeps with the compiled code across full GCs.
 */
export function iterationBudget(max: number = DEFAULT_MAX_ITERATIONS): IterationBudget {
  return { used: 0, max, spend: spendLiteral } as IterationBudget;
}

function spendLiteral(this: IterationBudget, n = 1): void {
  this.used += n;
  if (this.used > this.max) throw new IterationCapError(this.max);
}
