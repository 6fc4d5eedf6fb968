import { durationSeconds } from "../../calendar/config/lab-config.ts";
import { prepareSchedule, type PreparedSchedule } from "../schedule/publish.ts";
import { nextSeq } from "../schedule/seq.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";
import type { LedgerCore } from "./core.ts";
import { publicNotice, standingNotices } from "./notices.ts";

/**
 * Publishing never blocks a booking: requests coalesce into one loop that
 * runs beside the queue (waitUntil) and republishes while changes keep coming.
 *
 * A write that changes nothing the agents act on (a booking beyond the
 * schedule window, a purpose edited) publishes nothing: the schedule they
 * hold still says all there is, with the same validity, and signing and
 * sending it again was a sixth of a booking's CPU. The alarm's requests
 * (a reservation boundary, the half-way refresh of validUntil, a retry)
 * always publish.
 *
 * Durability: a request marks the publish pending in the same storage batch
 * as the write that asked for it (the write's answer waits for that batch
 * anyway), so a ledger that dies before publishing publishes from its alarm
 * when it wakes. The publish itself then waits for nothing but that batch:
 * no write of its own before the Broker call, which would hold the call at
 * the output gate once more on every booking's way to the agents. seq needs
 * no write ahead either: it is the signing clock (seq.ts), so a ledger that
 * lost the seq it just published still signs a higher one after a restart.
 */
const windowMsOf = (core: LedgerCore): number => durationSeconds(core.lab().policy.scheduleWindow) * 1000;

export class Publisher {
  #running: Promise<void> | undefined;
  #again = false;
  #always = false;
  /** Fingerprint of the last schedule the broker took from this ledger (since it woke). */
  #published: string | undefined;
  /** The last publish failed (in this instance): the next one goes out whatever it says. */
  #failed = false;

  constructor(private readonly core: () => LedgerCore, private readonly waitUntil: (p: Promise<unknown>) => void) {}

  /**
   * `always`: publish even when the schedule says what the last one said (time passed: validity, boundaries).
   * `from`: the change touched nothing before this time. A change that starts past the window of the
   * schedule the agents hold (published by this instance, nothing failed or pending since) cannot change
   * it: the loop would build the schedule only to find the same fingerprint, so it is not started.
   */
  request(always = false, from?: number): void {
    if (always) this.#always = true;
    const core = this.core();
    const m = core.state.meta;
    if (!this.#always && from !== undefined && this.#published !== undefined && !this.#running && !this.#failed && !m.publishPending && from >= Date.now() + windowMsOf(core)) return;
    // Not awaited: the put joins the storage batch of the write that asked, and the output gate holds its answer until it is durable.
    if (m.lastSyncAt && !m.publishPending) {
      m.publishPending = true;
      core.persistMeta();
    }
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#start();
  }

  #start(): void {
    const run = (async () => {
      let wrote = false;
      try {
        wrote = await this.#loop();
      } finally {
        this.#running = undefined;
      }
      // A request that came while the loop was finishing (its last write) is served, not left to the alarm.
      if (this.#again) this.#start();
      // Armed once settled, not busy (see busy()): a retry when the publish failed, the next refresh when it went out.
      else if (wrote || this.#failed) await this.core().arm();
    })();
    this.#running = run;
    this.waitUntil(run);
  }

  /**
   * A publish is being decided or sent. The pending mark is then the
   * loop's own business: it arms the alarm itself once it settled, so the
   * alarm the asking write arms leaves the retry out (it would wake the
   * ledger for nothing after every change). Should the ledger die first,
   * the mark is in storage and the next alarm (a sync, at the latest)
   * publishes.
   */
  busy(): boolean {
    return this.#running !== undefined;
  }

  /** Resolves when the current publish (if any) is done. */
  settled(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  /** Publishes until no request is left; whether it sent (or tried to send) a schedule. */
  async #loop(): Promise<boolean> {
    const core = this.core();
    const m = core.state.meta;
    // A ledger that never read its calendar has nothing true to sign: an empty schedule would free a held resource.
    if (!m.lastSyncAt) return false;
    let wrote = false;
    do {
      this.#again = false;
      const always = this.#always;
      this.#always = false;
      const now = Date.now();
      const windowMs = windowMsOf(core);
      const entries = core.view.reservations(now, now + windowMs, now).filter((r) => (r.state === "active" || r.state === "upcoming") && !isUnbookedUse(r));
      let prepared: PreparedSchedule | undefined;
      let failed = false;
      try {
        const notices = (await standingNotices(core, now)).map(publicNotice);
        prepared = prepareSchedule(core.env(), core.lab(), core.resource, new Date(now), windowMs, entries, core.log(), notices);
      } catch (e) {
        core.log().warn("schedule publish failed", { error: e });
        failed = true;
      }
      if (!failed && !always && !this.#failed && prepared && prepared.fingerprint === this.#published) continue;
      wrote = true;
      m.seq = nextSeq(m.seq, now);
      let ok = false;
      if (!failed) {
        try {
          ok = prepared ? await prepared.publish(m.seq) : true;
        } catch (e) {
          core.log().warn("schedule publish failed", { error: e });
        }
      }
      this.#failed = !ok;
      if (ok) {
        m.publishedAt = now;
        this.#published = prepared?.fingerprint;
      }
      // Still pending when another request came in meanwhile: the next turn of the loop settles it.
      m.publishPending = !ok || this.#again;
      await core.saveMeta();
    } while (this.#again);
    // Settled: pending only if the last publish failed (the requests that needed no publish are cleared too).
    if (m.publishPending !== this.#failed) {
      m.publishPending = this.#failed;
      await core.saveMeta();
    }
    return wrote;
  }
}
