/**
 * The schedule's seq: agents refuse any schedule whose seq is not above the
 * last one they accepted (replays). A counter kept only in the ledger's
 * storage would start again at 1 after that storage is lost (a wiped,
 * migrated or renamed Durable Object), and every agent would then refuse
 * every schedule, forever. So seq is the signing clock in milliseconds,
 * never lower than the last stored seq + 1: monotonic across state loss as
 * long as the clock doesn't run back past what agents have seen.
 */
export function nextSeq(lastSeq: number, now: number): number {
  return Math.max(lastSeq + 1, Math.floor(now));
}
