/**
 * One thing at a time: each function given to the queue starts after the
 * previous one settled, and a failure is its caller's alone (the queue goes
 * on). Web-standard, so the ledger's calendar backends and the agent's
 * drivers share it.
 */
export type SerialQueue = <T>(fn: () => Promise<T>) => Promise<T>;

export function serialQueue(): SerialQueue {
  let tail: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}
