import { durationSeconds } from "../../calendar/config/lab-config.ts";
import { publishSchedule } from "../schedule/publish.ts";
import { nextSeq } from "../schedule/seq.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";
import type { LedgerCore } from "./core.ts";
import { publicNotice, standingNotices } from "./notices.ts";

/**
 * Publishing never blocks a booking: requests coalesce into one loop that
 * runs beside the queue (waitUntil) and republishes while changes keep coming.
 */
export class Publisher {
  #running: Promise<void> | undefined;
  #again = false;

  constructor(private readonly core: () => LedgerCore, private readonly waitUntil: (p: Promise<unknown>) => void) {}

  request(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => (this.#running = undefined));
    this.waitUntil(this.#running);
  }

  /** Resolves when the current publish (if any) is done. */
  settled(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  async #loop(): Promise<void> {
    const core = this.core();
    const m = core.state.meta;
    // A ledger that never read its calendar has nothing true to sign: an empty schedule would free a held resource.
    if (!m.lastSyncAt) return;
    do {
      this.#again = false;
      const now = Date.now();
      const windowMs = durationSeconds(core.lab().policy.scheduleWindow) * 1000;
      const entries = core.view.reservations(now, now + windowMs, now).filter((r) => (r.state === "active" || r.state === "upcoming") && !isUnbookedUse(r));
      m.seq = nextSeq(m.seq, now);
      m.publishPending = true;
      await core.saveMeta();
      let ok = false;
      try {
        const notices = (await standingNotices(core, now)).map(publicNotice);
        ok = await publishSchedule(core.env(), core.lab(), core.resource, m.seq, new Date(now), windowMs, entries, core.log(), notices);
      } catch (e) {
        core.log().warn("schedule publish failed", { error: e });
      }
      m.publishPending = !ok;
      if (ok) m.publishedAt = now;
      await core.saveMeta();
    } while (this.#again);
    await core.arm();
  }
}
