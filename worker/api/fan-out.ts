/**
 * Calls to many ledgers at once, bounded. A list of every resource asks one
 * ledger per resource; a bound keeps one request from holding a thousand
 * calls open at once (each a Durable Object waking: loading its storage,
 * syncing its calendar), and a slow one holds up only its own slot.
 *
 * With a budget, the caller gets what has answered by then and `undefined`
 * for the rest: the calls go on (handed to `waitUntil`), so the ledgers still
 * sync and the next list finds them ready. Nothing is guessed for the missing
 * ones; the caller marks them.
 */
export type Outcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

export interface FanOutOptions {
  /** Calls in flight at most. */
  limit: number;
  /** Answer after this many ms with what is in; unset: wait for all. */
  budgetMs?: number;
  /** Keeps the calls still running alive after the answer (ExecutionContext.waitUntil). */
  waitUntil?: (p: Promise<unknown>) => void;
}

export async function fanOut<T, R>(items: readonly T[], call: (item: T) => Promise<R>, o: FanOutOptions): Promise<Array<Outcome<R> | undefined>> {
  const out: Array<Outcome<R> | undefined> = new Array(items.length).fill(undefined);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { ok: true, value: await call(items[i]!) };
      } catch (error) {
        out[i] = { ok: false, error };
      }
    }
  };
  const all = Promise.all(Array.from({ length: Math.max(1, Math.min(o.limit, items.length)) }, worker));
  if (o.budgetMs === undefined) {
    await all;
    return out;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), o.budgetMs)))]);
  clearTimeout(timer);
  if (late) {
    try {
      o.waitUntil?.(all);
    } catch {
      // No execution context (a test calling the app directly): the calls run on regardless.
    }
  }
  // A copy: answers arriving after the budget must not change what the caller already holds.
  return [...out];
}
