import type { Reservation } from "../../calendar/model.ts";
import { stateAt } from "../../calendar/model.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";
import { conflictLosers, conflictMarkerOf, mappingContext, reservationsOf } from "./calendar-port.ts";
import type { LedgerCore } from "./core.ts";
import { cacheWindow } from "./state.ts";
import { strip } from "./view.ts";

/**
 * The reservations of a past (or any) window, for statistics. Inside the
 * cache window (CACHE_BEFORE_DAYS back) they come from the cache, verdicts
 * included. Older windows are read from the calendar itself: history lives
 * in the calendar, not in the ledger's storage. There the conflict losers
 * are found again by the design's precedence rule, or by labhog's conflict
 * mark in the event (first-seen order is not kept that long).
 */
export async function history(core: LedgerCore, from: number, to: number, now = Date.now()): Promise<Reservation[]> {
  const w = cacheWindow(now);
  if (from >= w.start && to <= w.end) return core.view.reservations(from, to, now).map(strip);
  const objects = await core.calendar("history", (cal, signal) => cal.list({ start: new Date(from), end: new Date(to) }, { signal }));
  const lab = core.lab();
  const ctx = mappingContext(lab, core.resource);
  const window = { start: new Date(from), end: new Date(to) };
  const rows: Array<Reservation & { marked: boolean }> = [];
  for (const obj of objects) {
    let rs: Reservation[];
    try {
      rs = reservationsOf(obj, window, ctx);
    } catch (e) {
      core.log().warn("calendar object skipped", { objectId: obj.id, error: e });
      continue;
    }
    const mayBeMarked = /X-LABHOG-STATE:conflict/i.test(obj.ics);
    for (const r of rs) {
      if (Date.parse(r.start) >= to || Date.parse(r.end) <= from) continue;
      let marked = false;
      if (mayBeMarked) {
        try {
          marked = conflictMarkerOf(obj.ics, r.recurrenceId, lab.timezone);
        } catch {
          marked = false;
        }
      }
      rows.push({ ...r, state: stateAt(r, new Date(now)), marked });
    }
  }
  const losers = conflictLosers(rows.filter((r) => !isUnbookedUse(r)));
  return rows
    .map(({ marked, ...r }) => {
      const winners = losers.get(r.id);
      return winners || marked ? { ...r, state: "conflict" as const, conflictWith: winners ?? [] } : r;
    })
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start) || a.id.localeCompare(b.id));
}
