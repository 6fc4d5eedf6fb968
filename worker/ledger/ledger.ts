import { DurableObject } from "cloudflare:workers";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { durationSeconds } from "../../calendar/config/lab-config.ts";
import { ConflictError, LabhogError, NotFoundError } from "../../calendar/errors.ts";
import type { Reservation } from "../../calendar/model.ts";
import { toWire } from "../api/problem.ts";
import { effectiveEnv, type Env } from "../env.ts";
import { labOf } from "../lab.ts";
import { createLogger, type Logger } from "../log.ts";
import type { StoredChannel } from "../push/google-channel.ts";
import type { LiveUsage } from "../usage/live.ts";
import type { MirrorOutcome, MirrorState } from "../usage/mirror.ts";
import { boundaryPassed, nextAlarm } from "./alarm.ts";
import { backendFor, calendarKeyOf, type CalendarBackend, type CalendarObject, type EventPatch } from "./calendar-port.ts";
import type { LedgerCore } from "./core.ts";
import { CalendarDeadlineError, withDeadline } from "./deadline.ts";
import { firstReadPlan, freshnessOf, noCacheError, type Freshness } from "./freshness.ts";
import { ChannelKeeper } from "./google-glue.ts";
import { expiredLeases, Waiters } from "./leases.ts";
import { flushMirror, mirror, mirrorDue, mirrorIntervalMs } from "./mirror-glue.ts";
import { history } from "./history.ts";
import type { Seen } from "./precedence.ts";
import type { BookRequest, LedgerTiming, LeaseInfo, ReservationChange, ReservationList, ResourceSnapshot, Result, SeriesBooked, SeriesRequest } from "./protocol.ts";
import { Publisher } from "./publishing.ts";
import { CONFLICT_HORIZON_MS, HOLD_MS, loadMeta, MAX_WAIT_MS, type Lease, type LedgerState, type Meta } from "./state.ts";
import { sync, syncIfStale } from "./sync.ts";
import { ReservationView, strip } from "./view.ts";
import * as writes from "./writes.ts";
import * as seriesWrites from "./series-writes.ts";
import { WebhookOutbox } from "./webhook-glue.ts";
import * as notices from "./notices.ts";
import type { Notice } from "../notices/model.ts";
import type { WebhookBody } from "../webhooks/events.ts";

const ok = <T>(value: T): Result<T> => ({ ok: true, value });

/**
 * One per resource: the only writer of that resource's calendar. A thin
 * shell: it loads and stores state, runs every write through one serial
 * queue (so no two overlapping exclusive reservations can be granted,
 * whatever the concurrency) and hands the work to the concern modules:
 * sync.ts, writes.ts, view.ts (+ precedence.ts), publishing.ts,
 * mirror-glue.ts, google-glue.ts, alarm.ts. The synced calendar objects are
 * a cache in storage; the calendar stays the truth.
 */
export class Ledger extends DurableObject<Env> {
  #state: LedgerState = { meta: loadMeta(undefined), objects: new Map(), leases: new Map(), holds: new Map(), seen: new Map() };
  #queue: Promise<unknown> = Promise.resolve();
  #waiters = new Waiters();
  #backend: { key: string; backend: Promise<CalendarBackend> } | undefined;
  #log: Logger = createLogger({ component: "ledger" });
  #view: ReservationView;
  #publisher: Publisher;
  #channels = new ChannelKeeper();
  /** When a usage line held back by the throttle is due. */
  #mirrorDueAt: number | undefined;
  #core: LedgerCore;
  #webhooks: WebhookOutbox;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const self = this;
    const storage = ctx.storage;
    // Not awaited: the put joins the current storage batch, and the output gate holds every answer until it is durable.
    const persistMeta = () => void storage.put("meta", this.#state.meta);
    this.#core = {
      get resource() {
        return self.#resource;
      },
      state: this.#state,
      storage,
      get view() {
        return self.#view;
      },
      env: () => this.#env(),
      lab: () => this.#lab(),
      log: () => this.#log,
      calendar: (what, fn) => this.#callCalendar(what, fn),
      store: async (o) => {
        this.#state.objects.set(o.id, o);
        this.#view.touched(o.id);
        await storage.put(`obj:${o.id}`, o);
      },
      forget: async (id) => {
        this.#state.objects.delete(id);
        this.#view.touched(id);
        await storage.delete(`obj:${id}`);
      },
      setSeen: async (id, s) => {
        this.#state.seen.set(id, s);
        await storage.put(`seen:${id}`, s);
      },
      saveMeta: () => storage.put("meta", this.#state.meta),
      persistMeta,
      changed: (from) => this.#changed(from),
      notify: () => this.#waiters.notify(),
      arm: () => this.#arm(),
      requestPublish: () => this.#publisher.request(),
      syncIntervalMs: () => this.#syncIntervalMs(),
      tellWebhooks: (b) => {
        if (this.#hasWebhooks()) this.#webhooks.tell(b);
      },
    };
    this.#view = new ReservationView({
      state: this.#state,
      get resource() {
        return self.#resource;
      },
      lab: () => this.#lab(),
      log: () => this.#log,
      persistSeen: (changed, removed) => {
        // Not awaited: Durable Object writes are output-gated, so no answer leaves before they are durable.
        for (const chunk of chunks([...changed], 128)) void storage.put(Object.fromEntries(chunk.map(([id, s]) => [`seen:${id}`, s])));
        for (const chunk of chunks(removed, 128)) void storage.delete(chunk.map((id) => `seen:${id}`));
      },
      persistMeta,
    });
    this.#publisher = new Publisher(() => this.#core, (p) => ctx.waitUntil(p));
    this.#webhooks = new WebhookOutbox((p) => ctx.waitUntil(p));
    void ctx.blockConcurrencyWhile(async () => {
      this.#state.meta = loadMeta(await storage.get<Partial<Meta>>("meta"));
      for (const [, o] of await storage.list<CalendarObject>({ prefix: "obj:" })) this.#state.objects.set(o.id, o);
      for (const [, l] of await storage.list<Lease>({ prefix: "lease:" })) this.#state.leases.set(l.uid, l);
      for (const [k, s] of await storage.list<Seen>({ prefix: "seen:" })) this.#state.seen.set(k.slice(5), s);
      this.#channels.channel = await storage.get<StoredChannel>("google-channel");
      this.#mirrorDueAt = mirrorDue(await storage.get<MirrorState>("mirror"), mirrorIntervalMs(this.#env()));
      if (this.#state.meta.resource) this.#log = createLogger({ component: "ledger", resource: this.#state.meta.resource });
    });
  }

  // ── plumbing ────────────────────────────────────────────────────────────

  #env(): Env {
    return effectiveEnv(this.env);
  }

  #lab(): LabConfig {
    return labOf(this.#env());
  }

  #syncIntervalMs(): number {
    return durationSeconds(this.#lab().policy.syncInterval) * 1000;
  }

  #deadlineMs(): number {
    return durationSeconds(this.#lab().policy.calendarDeadline) * 1000;
  }

  get #resource(): string {
    if (!this.#state.meta.resource) throw new LabhogError("internal", 500, "ledger used before it knows its resource");
    return this.#state.meta.resource;
  }

  /** Ledgers are addressed by resource name; the first call tells the ledger which one it is. */
  async #bind(resource: string): Promise<void> {
    const meta = this.#state.meta;
    if (meta.resource === resource) return;
    if (meta.resource) throw new LabhogError("internal", 500, `ledger of ${meta.resource} addressed as ${resource}`);
    if (!Object.hasOwn(this.#lab().resources, resource)) throw new NotFoundError(`no resource ${resource}`);
    meta.resource = resource;
    this.#log = createLogger({ component: "ledger", resource });
    await this.ctx.storage.put("meta", meta);
    await this.#arm();
  }

  /** The calendar backend, created once per config (CalDAV discovery is a round trip); a failed connect is retried next time. */
  #calendar(): Promise<CalendarBackend> {
    const env = this.#env();
    const lab = labOf(env);
    const calKey = calendarKeyOf(lab, this.#resource);
    const cfg = Object.hasOwn(lab.calendars, calKey) ? lab.calendars[calKey] : undefined;
    const key = JSON.stringify(cfg ?? null) + "|" + (cfg && "passwordSecret" in cfg && cfg.passwordSecret ? String(env[cfg.passwordSecret] ?? "") : "");
    if (this.#backend?.key !== key) {
      const backend = backendFor(env, lab, this.#resource, this.ctx.storage, this.#log);
      const entry = { key, backend };
      this.#backend = entry;
      backend.catch(() => {
        if (this.#backend === entry) this.#backend = undefined;
      });
    }
    return this.#backend.backend;
  }

  /**
   * The queue every write (and every sync) runs through. Calendar calls in it
   * are bounded by the deadline, and an operation that waited in the queue
   * behind a call that ran out of time fails at once (503): the calendar
   * just proved it isn't answering, so nobody waits a second deadline.
   */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const enqueuedAt = Date.now();
    const step = () => {
      this.#runningSince = enqueuedAt;
      return fn();
    };
    const run = this.#queue.then(step, step);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** When the operation now running in the queue was queued (ms). */
  #runningSince = 0;
  /** When a calendar call last ran out of its deadline (ms). */
  #stalledAt = 0;

  /** The timing of the write running in the queue: its calendar calls add to it. */
  #timing: LedgerTiming | undefined;

  async #callCalendar<T>(what: string, fn: (cal: CalendarBackend, signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadlineMs = this.#deadlineMs();
    if (this.#stalledAt > this.#runningSince) throw new CalendarDeadlineError(what, deadlineMs);
    const timing = this.#timing;
    const began = Date.now();
    try {
      return await withDeadline(deadlineMs, what, async (signal) => fn(await this.#calendar(), signal));
    } catch (e) {
      if (e instanceof CalendarDeadlineError) this.#stalledAt = Date.now();
      throw e;
    } finally {
      if (timing) timing.calendarMs += Date.now() - began;
    }
  }

  /** Runs a write (serial) or a plain call; writes on a ledger that never synced sync first, like reads. */
  async #run<T>(resource: string, fn: () => Promise<T>, serial = true, syncFirst = serial): Promise<Result<T>> {
    const began = Date.now();
    const timing: LedgerTiming = { ms: 0, calendarMs: 0 };
    // Only a write in the queue owns the calendar calls made meanwhile; a plain call's would be anyone's.
    const own = async () => {
      this.#timing = timing;
      try {
        return await fn();
      } finally {
        this.#timing = undefined;
      }
    };
    let result: Result<T>;
    try {
      await this.#bind(resource);
      if (syncFirst) await this.#ensureSynced();
      await this.#webhooks.prime(this.#core);
      result = ok(await (serial ? this.#serial(own) : fn()));
    } catch (e) {
      result = this.#failed(e);
    }
    timing.ms = Date.now() - began;
    return { ...result, timing };
  }

  #failed(e: unknown): Result<never> {
    if (!(e instanceof LabhogError)) this.#log.error("ledger operation failed", { error: e });
    else if (e.status >= 500) this.#log.warn("ledger operation failed", { error: e, code: e.code });
    return { ok: false, error: toWire(e) };
  }

  /**
   * Reads never answer from a ledger that has never synced: the first read
   * syncs (in the queue), and with no cache and no calendar the answer is
   * 503 with Retry-After. A synced ledger answers from its cache at once,
   * with its freshness (stale when the calendar has been unreachable).
   */
  async #read<T>(resource: string, fn: (f: Freshness) => T | Promise<T>): Promise<Result<T>> {
    try {
      await this.#bind(resource);
      await this.#ensureSynced();
      return ok(await fn(freshnessOf(this.#state.meta, this.#syncIntervalMs(), Date.now())));
    } catch (e) {
      return this.#failed(e);
    }
  }

  async #ensureSynced(): Promise<void> {
    const interval = this.#syncIntervalMs();
    if (firstReadPlan(this.#state.meta, interval, Date.now()) === "ready") return;
    await this.#serial(async () => {
      const plan = firstReadPlan(this.#state.meta, interval, Date.now());
      if (plan === "ready") return;
      if (plan === "unavailable") throw noCacheError(this.#resource, interval);
      try {
        await sync(this.#core);
      } catch (e) {
        // Unreachable (down, hanging): 503 with Retry-After. A refused password or a bad config says so itself.
        throw e instanceof LabhogError && e.status !== 503 ? e : noCacheError(this.#resource, interval, e);
      } finally {
        await this.#arm();
      }
    });
  }

  #changed(from?: number): void {
    this.#waiters.notify();
    this.#publisher.request(false, from);
    this.#tellWebhooks();
    void this.#arm();
  }

  #hasWebhooks(): boolean {
    return Object.keys(this.#lab().webhooks ?? {}).length > 0;
  }

  /** Outgoing webhooks see every change, in the queue after the one that made it. */
  #tellWebhooks(extra: WebhookBody[] = []): void {
    // A lab without webhooks doesn't pay a queue step per change.
    if (!this.#hasWebhooks()) return;
    void this.#serial(() => this.#webhooks.notice(this.#core, extra)).catch((e: unknown) => this.#log.warn("webhooks: could not queue", { error: e }));
  }

  // ── RPC: reads ──────────────────────────────────────────────────────────

  async list(resource: string, from: string, to: string): Promise<Result<ReservationList>> {
    return this.#read(resource, (f) => ({ reservations: this.#view.reservations(Date.parse(from), Date.parse(to)).map(strip), ...f }));
  }

  /** One reservation, with the freshness of the answer (like lists: a stale cache says so). */
  async get(resource: string, id: string): Promise<Result<Reservation & Pick<Freshness, "lastSync" | "stale">>> {
    return this.#read(resource, (f) => ({ ...strip(this.#view.find(id)), lastSync: f.lastSync, stale: f.stale }));
  }

  async snapshot(resource: string): Promise<Result<ResourceSnapshot>> {
    return this.#read(resource, (f) => this.#snapshotOf(f));
  }

  /** A status page row in one call: the snapshot and the reservations of the page's window (one Durable Object request per resource and poll, not two). */
  async row(resource: string, from: string, to: string): Promise<Result<{ snapshot: ResourceSnapshot; week: ReservationList }>> {
    return this.#read(resource, async (f) => ({ snapshot: await this.#snapshotOf(f), week: { reservations: this.#view.reservations(Date.parse(from), Date.parse(to)).map(strip), ...f } }));
  }

  async #snapshotOf(f: Freshness): Promise<ResourceSnapshot> {
    const now = Date.now();
    const standing = (await notices.standingNotices(this.#core, now)).map(notices.publicNotice);
    const rs = this.#view.reservations(now, now + CONFLICT_HORIZON_MS, now);
    const next = rs.find((r) => r.state === "upcoming");
    return {
      current: rs.filter((r) => r.state === "active").map(strip),
      next: next ? strip(next) : null,
      conflicts: rs.filter((r) => r.state === "conflict").length,
      ...f,
      seq: this.#state.meta.seq,
      publishPending: this.#state.meta.publishPending,
      notices: standing,
    };
  }

  /** The cached calendar objects as iCalendar text (feeds, diagnosis). The calendar stays the truth. */
  async calendarObjects(resource: string): Promise<Result<CalendarObject[]>> {
    return this.#read(resource, () => [...this.#state.objects.values()]);
  }

  /** Reservations of any window for statistics: from the cache when it reaches that far, else from the calendar (history.ts). */
  async history(resource: string, from: string, to: string): Promise<Result<ReservationList>> {
    return this.#read(resource, async (f) => ({ reservations: await history(this.#core, Date.parse(from), Date.parse(to)), ...f }));
  }

  /** Standing notices of this resource (notices.ts). */
  async notices(resource: string): Promise<Result<Notice[]>> {
    return this.#run(resource, async () => (await notices.standingNotices(this.#core)).map(notices.publicNotice), false, false);
  }

  // ── RPC: writes ─────────────────────────────────────────────────────────

  /** A notice: its calendar event written, stored, the schedule republished (notices.ts). */
  async addNotice(resource: string, notice: Notice): Promise<Result<Notice>> {
    return this.#run(resource, () => notices.addNotice(this.#core, notice));
  }

  async deleteNotice(resource: string, id: string): Promise<Result<boolean>> {
    return this.#run(resource, () => notices.deleteNotice(this.#core, id));
  }

  async book(resource: string, req: BookRequest): Promise<Result<Reservation>> {
    return this.#run(resource, async () => {
      await syncIfStale(this.#core);
      return writes.commit(this.#core, writes.takeHold(this.#core, req, HOLD_MS));
    });
  }

  /** A recurring booking: every occurrence checked, the series written as one event (series-writes.ts). */
  async bookSeries(resource: string, req: SeriesRequest): Promise<Result<SeriesBooked>> {
    return this.#run(resource, async () => {
      await syncIfStale(this.#core);
      return seriesWrites.bookSeries(this.#core, req);
    });
  }

  /** Two-phase booking, phase one: checks and holds the slot (others see it as taken) without writing. */
  async hold(resource: string, req: BookRequest, holdMs = HOLD_MS): Promise<Result<string>> {
    return this.#run(resource, async () => {
      await syncIfStale(this.#core);
      const h = writes.takeHold(this.#core, req, Math.min(holdMs, HOLD_MS));
      void this.#arm();
      return h.id;
    });
  }

  /** Phase two: writes the held booking to the calendar. */
  async commitHold(resource: string, holdId: string): Promise<Result<Reservation>> {
    return this.#run(resource, async () => {
      const h = this.#state.holds.get(holdId);
      if (!h || h.expires < Date.now()) throw new ConflictError("the hold expired before it was committed", { resource });
      return writes.commit(this.#core, h);
    });
  }

  async releaseHold(resource: string, holdId: string): Promise<Result<boolean>> {
    return this.#run(resource, async () => {
      const had = this.#state.holds.delete(holdId);
      if (had) this.#waiters.notify();
      return had;
    });
  }

  /** Extend, shorten or move. Occurrences of recurring events are changed in the calendar app. */
  async change(resource: string, id: string, change: ReservationChange): Promise<Result<Reservation>> {
    return this.#run(resource, async () => {
      await syncIfStale(this.#core);
      return writes.change(this.#core, id, change);
    });
  }

  /** Ends a running reservation now; an upcoming one is cancelled. */
  async release(resource: string, id: string): Promise<Result<Reservation>> {
    return this.#run(resource, async () => writes.release(this.#core, id, "release"));
  }

  /** Cancels an upcoming reservation (a running one must be released); `following`: this occurrence of a series and the later ones. */
  async cancel(resource: string, id: string, scope: "this" | "following" = "this"): Promise<Result<Reservation>> {
    return this.#run(resource, async () => (scope === "following" ? seriesWrites.cancelFollowing(this.#core, id) : writes.release(this.#core, id, "cancel")));
  }

  /** Undoes a booking this Worker just made (a failed atomic multi-resource booking). */
  async retract(resource: string, id: string): Promise<Result<boolean>> {
    return this.#run(resource, async () => writes.retract(this.#core, id));
  }

  async keepalive(resource: string, id: string): Promise<Result<LeaseInfo>> {
    return this.#run(resource, async () => writes.keepalive(this.#core, id));
  }

  /** Seam for usage mirroring: applies a patch to a reservation's event with If-Match, then republishes. */
  async patchEvent(resource: string, id: string, patch: EventPatch): Promise<Result<Reservation>> {
    return this.#run(resource, async () => writes.patchEvent(this.#core, id, patch));
  }

  /** Usage mirroring (mirror-glue.ts). */
  async mirrorUsage(resource: string, live: LiveUsage): Promise<Result<MirrorOutcome>> {
    return this.#run(resource, async () => {
      const { out, dueAt } = await mirror(this.#core, live);
      this.#mirrorDueAt = dueAt;
      if (out.wrote === "live-line" || out.unbooked || out.noShows.length) this.#changed();
      else if (dueAt !== undefined) await this.#arm();
      return out;
    });
  }

  /**
   * The Broker heard the serving agent say a booking is not in place. One
   * webhook per failure episode: the agent's `since` names it, so the same
   * report heard again (a retained message after a reconnect) is not news.
   */
  async enforcementFailed(resource: string, report: { agent: string; problems: string[]; since: string | null }): Promise<Result<boolean>> {
    return this.#run(
      resource,
      async () => {
        const key = `${report.agent}|${report.since ?? ""}`;
        if ((await this.ctx.storage.get<string>("enforcement-told")) === key) return false;
        await this.ctx.storage.put("enforcement-told", key);
        await this.#webhooks.notice(this.#core, [
          { type: "enforcement.failed", timestamp: new Date().toISOString(), site: this.#lab().site, data: { resource: this.#resource, enforcement: { agent: report.agent, problems: report.problems.slice(0, 20), since: report.since } } },
        ]);
        return true;
      },
      true,
      false,
    );
  }

  /** Resolves when anything on this resource changes, or after `timeoutMs`. For bounded waits. */
  async waitForChange(resource: string, timeoutMs: number): Promise<Result<boolean>> {
    return this.#run(resource, () => this.#waiters.wait(Math.max(0, Math.min(timeoutMs, MAX_WAIT_MS))), false);
  }

  /** Syncs at once (push endpoints call this); returns whether anything changed. */
  async syncNow(resource: string): Promise<Result<boolean>> {
    return this.#run(
      resource,
      async () => {
        try {
          return await sync(this.#core);
        } finally {
          await this.#arm();
        }
      },
      true,
      false,
    );
  }

  /** Makes sure the alarm is set (cron's safety net). */
  async ensureArmed(resource: string): Promise<Result<boolean>> {
    return this.#run(
      resource,
      async () => {
        if ((await this.ctx.storage.getAlarm()) === null) {
          await this.#arm();
          return true;
        }
        return false;
      },
      false,
    );
  }

  // ── alarm: sync, leases, held-back usage, channel, publish ──────────────

  override async alarm(): Promise<void> {
    if (!this.#state.meta.resource) return;
    // A ledger of a resource the lab file does not define (removed since, or made for a bogus id by an
    // older Worker) could never sync: it stops instead of failing on every alarm.
    if (!Object.hasOwn(this.#lab().resources, this.#state.meta.resource)) {
      this.#log.warn("no such resource in the lab: this ledger's alarm is stopped", { resource: this.#state.meta.resource });
      await this.ctx.storage.deleteAlarm();
      return;
    }
    try {
      await this.#serial(async () => {
        await this.#webhooks.prime(this.#core);
        try {
          await sync(this.#core);
        } catch (e) {
          this.#log.warn("sync failed", { error: e });
        }
        await writes.endLeases(this.#core, expiredLeases(this.#state.leases.values(), Date.now()));
        if (this.#mirrorDueAt !== undefined && Date.now() >= this.#mirrorDueAt) {
          this.#mirrorDueAt = undefined;
          this.#mirrorDueAt = await flushMirror(this.#core);
        }
        // The clock moves reservations from upcoming to active to ended: webhooks hear of it here.
        await this.#webhooks.notice(this.#core).catch((e: unknown) => this.#log.warn("webhooks: could not queue", { error: e }));
      });
      this.#webhooks.send(this.#core);
      await this.#channels.keep(this.#core);
      const now = Date.now();
      const windowMs = this.#scheduleWindowMs();
      const m = this.#state.meta;
      if (m.publishPending || boundaryPassed(this.#view.reservations(m.publishedAt || now, now + 1, now), m.publishedAt, windowMs, now)) this.#publisher.request(true);
      await this.#publisher.settled();
    } catch (e) {
      this.#log.error("alarm failed", { error: e });
    } finally {
      await this.#arm();
    }
  }

  #scheduleWindowMs(): number {
    return durationSeconds(this.#lab().policy.scheduleWindow) * 1000;
  }

  async #arm(): Promise<void> {
    if (!this.#state.meta.resource) return;
    const now = Date.now();
    const m = this.#state.meta;
    const windowMs = this.#scheduleWindowMs();
    const at = nextAlarm(
      {
        lastAttemptAt: m.lastAttemptAt,
        syncIntervalMs: this.#syncIntervalMs(),
        window: this.#view.reservations(now, now + windowMs, now),
        publishedAt: m.publishedAt,
        scheduleWindowMs: windowMs,
        publishPending: m.publishPending && !this.#publisher.busy(),
        leases: this.#state.leases.values(),
        holds: this.#state.holds.values(),
        channelDue: this.#channels.due(),
        mirrorDueAt: this.#mirrorDueAt,
        webhookDueAt: this.#webhooks.due(),
      },
      now,
    );
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at || current < now) await this.ctx.storage.setAlarm(at);
  }
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
