import { DurableObject } from "cloudflare:workers";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { durationSeconds } from "../../calendar/config/lab-config.ts";
import { ConflictError, LabhogError, NotFoundError, PreconditionFailedError, ValidationError } from "../../calendar/errors.ts";
import { overlaps, stateAt, type Reservation } from "../../calendar/model.ts";
import { toWire } from "../api/problem.ts";
import { effectiveEnv, type Env } from "../env.ts";
import { labOf } from "../lab.ts";
import { createLogger, type Logger } from "../log.ts";
import { publishSchedule } from "../schedule/publish.ts";
import type { LiveUsage } from "../usage/live.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";
import { ensureChannel, googlePushConfig, isWatchable, renewalDue, type StoredChannel } from "../push/google-channel.ts";
import { emptyMirrorState, mirrorUsage, type MirrorOutcome, type MirrorPort, type MirrorState } from "../usage/mirror.ts";
import {
  backendFor,
  calendarKeyOf,
  conflictMarkerOf,
  conflictLosers,
  freeSlotAfter,
  mappingContext,
  newEventIcs,
  patchIcs,
  reservationsOf,
  type CalendarBackend,
  type CalendarObject,
  type EventPatch,
} from "./calendar-port.ts";
import type { BookRequest, ConflictInfo, LeaseInfo, ReservationChange, ResourceSnapshot, Result } from "./protocol.ts";

interface Meta {
  resource?: string;
  syncToken: string | null;
  lastSyncAt: number;
  seq: number;
  publishPending: boolean;
  publishedAt: number;
}

interface Lease {
  uid: string;
  ttl: number;
  lastKeepalive: number;
}

interface Hold {
  id: string;
  req: BookRequest;
  expires: number;
}

const HOLD_MS = 30_000;
const PUBLISH_RETRY_MS = 5_000;
const CONFLICT_HORIZON_MS = 60 * 86_400_000;
const MAX_WAIT_MS = 600_000;
const CACHE_BEFORE_DAYS = 35;
const CACHE_AFTER_DAYS = 400;

const ok = <T>(value: T): Result<T> => ({ ok: true, value });

/**
 * One per resource: the only writer of that resource's calendar. Every write
 * runs through #serial, so no two overlapping exclusive reservations can be
 * committed, whatever the concurrency. The synced calendar objects are a
 * cache in storage (the calendar stays the truth).
 */
export class Ledger extends DurableObject<Env> {
  #meta: Meta = { syncToken: null, lastSyncAt: 0, seq: 0, publishPending: false, publishedAt: 0 };
  #objects = new Map<string, CalendarObject>();
  #leases = new Map<string, Lease>();
  #holds = new Map<string, Hold>();
  #queue: Promise<unknown> = Promise.resolve();
  #waiters = new Set<() => void>();
  #backend: { key: string; backend: Promise<CalendarBackend> } | undefined;
  /** Parsed reservations per object (by etag) over a wide window around today: parsing is the CPU cost of a booking. */
  #parsed = new Map<string, { etag: string; day: number; rs: Reservation[] | null }>();
  /** Bumped on every change to the cached objects. */
  #version = 0;
  #loserCache: { version: number; day: number; losers: Map<string, string[]> } | undefined;
  #marks = new Map<string, boolean>();
  #publishing: Promise<void> | undefined;
  #publishAgain = false;
  #log: Logger = createLogger({ component: "ledger" });
  /** The Google push channel of this resource's calendar (google backend with push configured). */
  #channel: StoredChannel | undefined;
  #channelRetryAt: number | undefined;
  /** When a usage line held back by the throttle is due (usage/mirror.ts). */
  #mirrorDueAt: number | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#meta = { ...this.#meta, ...((await ctx.storage.get<Meta>("meta")) ?? {}) };
      for (const [, o] of await ctx.storage.list<CalendarObject>({ prefix: "obj:" })) this.#objects.set(o.id, o);
      for (const [, l] of await ctx.storage.list<Lease>({ prefix: "lease:" })) this.#leases.set(l.uid, l);
      this.#channel = await ctx.storage.get<StoredChannel>("google-channel");
      const mirror = await ctx.storage.get<MirrorState>("mirror");
      if (mirror?.pending) this.#mirrorDueAt = mirror.writtenAt + this.#mirrorIntervalMs();
      if (this.#meta.resource) this.#log = createLogger({ component: "ledger", resource: this.#meta.resource });
    });
  }

  // ── plumbing ────────────────────────────────────────────────────────────

  #env(): Env {
    return effectiveEnv(this.env);
  }

  #lab(): LabConfig {
    return labOf(this.#env());
  }

  get #resource(): string {
    if (!this.#meta.resource) throw new LabhogError("internal", 500, "ledger used before it knows its resource");
    return this.#meta.resource;
  }

  /** Ledgers are addressed by resource name; the first call tells the ledger which one it is. */
  async #bind(resource: string): Promise<void> {
    if (this.#meta.resource === resource) return;
    if (this.#meta.resource) throw new LabhogError("internal", 500, `ledger of ${this.#meta.resource} addressed as ${resource}`);
    if (!(resource in this.#lab().resources)) throw new NotFoundError(`no resource ${resource}`);
    this.#meta.resource = resource;
    this.#log = createLogger({ component: "ledger", resource });
    await this.#saveMeta();
    await this.#arm();
  }

  async #saveMeta(): Promise<void> {
    await this.ctx.storage.put("meta", this.#meta);
  }

  /** The calendar backend, created once per config (CalDAV discovery is a round trip); a failed connect is retried next time. */
  #calendar(): Promise<CalendarBackend> {
    const env = this.#env();
    const lab = labOf(env);
    const cfg = lab.calendars[calendarKeyOf(lab, this.#resource)];
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

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #run<T>(resource: string, fn: () => Promise<T>, serial = true): Promise<Result<T>> {
    try {
      await this.#bind(resource);
      return ok(await (serial ? this.#serial(fn) : fn()));
    } catch (e) {
      if (!(e instanceof LabhogError)) this.#log.error("ledger operation failed", { error: e });
      else if (e.status >= 500) this.#log.warn("ledger operation failed", { error: e, code: e.code });
      return { ok: false, error: toWire(e) };
    }
  }

  #notify(): void {
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }

  // ── the reservation view ────────────────────────────────────────────────

  /**
   * Reservations touching the window, with state as of now; losers of
   * overlaps are "conflict" (recomputed from the events, never read from our
   * own marks). Objects that fail to parse are skipped (and logged).
   */
  #reservations(start: number, end: number, now = new Date()): Array<Reservation & { objectId: string }> {
    const losers = this.#losers(now);
    return this.#raw(start, end, now).map((r) => {
      const winners = losers.get(r.id);
      return winners ? { ...r, state: "conflict" as const, conflictWith: winners } : r;
    });
  }

  /** Who loses which overlap, over the whole cached window (a slice could decide chains differently). */
  #losers(now: Date): Map<string, string[]> {
    const day = Math.floor(now.getTime() / 86_400_000);
    if (this.#loserCache?.version === this.#version && this.#loserCache.day === day) return this.#loserCache.losers;
    let losers = new Map<string, string[]>();
    try {
      // Unbooked-use events (issue 5) inform; they are no reservation and take no part in conflicts.
      losers = conflictLosers(this.#raw((day - CACHE_BEFORE_DAYS) * 86_400_000, (day + CACHE_AFTER_DAYS) * 86_400_000, now).filter((r) => !isUnbookedUse(r)));
    } catch (e) {
      this.#log.warn("conflict resolution failed", { error: e });
    }
    this.#loserCache = { version: this.#version, day, losers };
    return losers;
  }

  #raw(start: number, end: number, now = new Date()): Array<Reservation & { objectId: string }> {
    const ctx = mappingContext(this.#lab(), this.#resource);
    const day = Math.floor(now.getTime() / 86_400_000);
    const wide = { start: (day - CACHE_BEFORE_DAYS) * 86_400_000, end: (day + CACHE_AFTER_DAYS) * 86_400_000 };
    const cacheable = start >= wide.start && end <= wide.end;
    const out: Array<Reservation & { objectId: string }> = [];
    for (const obj of this.#objects.values()) {
      let rs: Reservation[] | null;
      const hit = this.#parsed.get(obj.id);
      if (cacheable && hit && hit.etag === obj.etag && hit.day === day) rs = hit.rs;
      else {
        const window = cacheable ? { start: new Date(wide.start), end: new Date(wide.end) } : { start: new Date(start), end: new Date(end) };
        try {
          rs = reservationsOf(obj, window, ctx);
        } catch (e) {
          if (hit?.etag !== obj.etag) this.#log.warn("calendar object skipped", { objectId: obj.id, error: e });
          rs = null;
        }
        if (cacheable) this.#parsed.set(obj.id, { etag: obj.etag, day, rs });
      }
      for (const r of rs ?? []) if (Date.parse(r.start) < end && Date.parse(r.end) > start) out.push({ ...r, state: stateAt(r, now), objectId: obj.id });
    }
    return out.sort((a, b) => Date.parse(a.start) - Date.parse(b.start) || a.id.localeCompare(b.id));
  }

  #find(id: string): Reservation & { objectId: string } {
    const now = Date.now();
    const near = (from: number, to: number) => this.#reservations(from, to).find((r) => r.id === id || r.uid === id);
    const hit = near(now - 30 * 86_400_000, now + 390 * 86_400_000) ?? near(now - 3 * 366 * 86_400_000, now + 5 * 366 * 86_400_000);
    if (!hit) throw new NotFoundError(`no reservation ${id} on ${this.#resource}`, { resource: this.#resource, id });
    return hit;
  }

  /** Exclusive overlaps, counting pending holds (two-phase bookings) too. */
  #conflictsWith(req: { start: string; end: string; exclusive: boolean }, exceptUid?: string, exceptHold?: string): ConflictInfo[] {
    const now = Date.now();
    const out: ConflictInfo[] = [];
    for (const r of this.#reservations(Date.parse(req.start), Date.parse(req.end))) {
      if (r.uid === exceptUid || r.state === "conflict" || r.state === "ended" || isUnbookedUse(r)) continue;
      if (!(req.exclusive || r.exclusive)) continue;
      if (overlaps(req, r)) out.push({ id: r.id, holder: r.holder.id, start: r.start, end: r.end, exclusive: r.exclusive, state: r.state });
    }
    for (const h of this.#holds.values()) {
      if (h.id === exceptHold || h.expires < now) continue;
      if ((req.exclusive || h.req.exclusive) && overlaps(req, h.req)) out.push({ id: `hold:${h.id}`, holder: h.req.holder, start: h.req.start, end: h.req.end, exclusive: h.req.exclusive, state: "upcoming" });
    }
    return out;
  }

  #conflictError(req: BookRequest, conflicts: ConflictInfo[]): ConflictError {
    const duration = Date.parse(req.end) - Date.parse(req.start);
    const now = Date.now();
    const busy = this.#reservations(now, now + CONFLICT_HORIZON_MS).filter((r) => r.state !== "conflict" && !isUnbookedUse(r));
    for (const h of this.#holds.values()) busy.push({ ...h.req, id: `hold:${h.id}`, uid: `hold:${h.id}`, resource: this.#resource, holder: { id: h.req.holder, raw: h.req.holder }, purpose: "", source: "api", state: "upcoming", objectId: "" });
    let nextFree: { start: string; end: string } | null = null;
    try {
      nextFree = freeSlotAfter(busy, new Date(Math.max(Date.parse(req.start), now)).toISOString(), duration, req.exclusive);
    } catch (e) {
      this.#log.warn("next free slot failed", { error: e });
    }
    const names = conflicts.map((c) => `${c.id.startsWith("hold:") ? "a booking in progress" : `${this.#resource}:${c.id}`} (${c.holder ?? "unknown holder"}, ${c.start} – ${c.end})`).join(", ");
    return new ConflictError(`${this.#resource} is booked at that time: ${names}`, { resource: this.#resource, conflicts, nextFree });
  }

  // ── sync ────────────────────────────────────────────────────────────────

  /** Incremental sync into the cache, then marks the losers of app-made conflicts in the calendar. */
  async #sync(): Promise<boolean> {
    const cal = await this.#calendar();
    const res = await cal.sync(this.#meta.syncToken);
    let changed = res.full ? res.changed.length !== this.#objects.size : res.changed.length + res.deleted.length > 0;
    if (res.full) {
      const keep = new Set(res.changed.map((o) => o.id));
      for (const id of [...this.#objects.keys()]) {
        if (!keep.has(id)) {
          await this.#forget(id);
          changed = true;
        }
      }
    }
    for (const o of res.changed) {
      const prev = this.#objects.get(o.id);
      if (prev?.etag === o.etag && prev.ics === o.ics) continue;
      changed = true;
      await this.#store(o);
    }
    for (const id of res.deleted) {
      if (this.#objects.has(id)) await this.#forget(id);
    }
    this.#meta.syncToken = res.token;
    this.#meta.lastSyncAt = Date.now();
    await this.#saveMeta();
    if (await this.#markConflicts()) changed = true;
    if (changed) {
      this.#notify();
      this.#requestPublish();
    }
    return changed;
  }

  /** Whether labhog's conflict mark is on the event (cached per etag: parsing is not free). */
  #markedConflict(obj: CalendarObject, recurrenceId: string | undefined): boolean {
    const key = `${obj.id}\u0000${obj.etag}\u0000${recurrenceId ?? ""}`;
    let m = this.#marks.get(key);
    if (m === undefined) {
      try {
        m = conflictMarkerOf(obj.ics, recurrenceId, this.#lab().timezone);
      } catch {
        m = false;
      }
      if (this.#marks.size > 10_000) this.#marks.clear();
      this.#marks.set(key, m);
    }
    return m;
  }

  async #store(o: CalendarObject): Promise<void> {
    this.#version++;
    this.#objects.set(o.id, o);
    await this.ctx.storage.put(`obj:${o.id}`, o);
  }

  async #forget(id: string): Promise<void> {
    this.#version++;
    this.#objects.delete(id);
    this.#parsed.delete(id);
    await this.ctx.storage.delete(`obj:${id}`);
  }

  /** Calendar apps can't be stopped from overlapping: the loser is marked (never deleted). */
  async #markConflicts(): Promise<boolean> {
    const now = Date.now();
    const losers = this.#losers(new Date(now));
    let marked = false;
    const lab = this.#lab();
    for (const r of this.#raw(now - 3_600_000, now + CONFLICT_HORIZON_MS)) {
      if (r.state === "ended") continue;
      const winners = losers.get(r.id);
      const obj = this.#objects.get(r.objectId);
      if (!obj) continue;
      // Marked and still losing, or unmarked and not losing: nothing to write.
      if (!winners === !this.#markedConflict(obj, r.recurrenceId)) continue;
      try {
        const cal = await this.#calendar();
        const updated = await cal.update(obj.id, patchIcs(obj.ics, { conflictWith: winners ?? null }, lab, r.recurrenceId), obj.etag);
        await this.#store(updated);
        marked = true;
        this.#log.info(winners ? "marked conflict" : "cleared conflict mark", { reservation: r.id, winners });
      } catch (e) {
        // Someone edited it meanwhile: the next sync sees the new version and decides again.
        if (!(e instanceof PreconditionFailedError)) this.#log.warn("could not mark conflict", { reservation: r.id, error: e });
      }
    }
    return marked;
  }

  /**
   * Writes sync first only when the cache is older than one sync interval
   * (the alarm is late, or the ledger just woke up). Syncing before every
   * write would cost a CalDAV REPORT per booking (p99 236 ms → 68 ms in
   * bench/worker.ts without it), and buys nothing for correctness: API
   * bookings are serialized here, and an app-made event that races one is
   * settled by the precedence rule at the next sync like any app conflict.
   */
  async #syncIfStale(): Promise<void> {
    if (Date.now() - this.#meta.lastSyncAt > durationSeconds(this.#lab().policy.syncInterval) * 1000) await this.#sync();
  }

  // ── writes ──────────────────────────────────────────────────────────────

  #validate(req: { start: string; end: string }): void {
    const s = Date.parse(req.start);
    const e = Date.parse(req.end);
    if (!Number.isFinite(s) || !Number.isFinite(e)) throw new ValidationError("start and end must be date-times", { path: "start" });
    if (e <= s) throw new ValidationError("end must be after start", { path: "end" });
    const max = durationSeconds(this.#lab().policy.maxReservation) * 1000;
    if (e - s > max) throw new ValidationError(`a reservation may last at most ${this.#lab().policy.maxReservation}`, { path: "end" });
    if (e <= Date.now()) throw new ValidationError("the reservation would be over already", { path: "end" });
  }

  #takeHold(req: BookRequest, holdMs: number): Hold {
    for (const [id, h] of this.#holds) if (h.expires < Date.now()) this.#holds.delete(id);
    this.#validate(req);
    const conflicts = this.#conflictsWith(req);
    if (conflicts.length) throw this.#conflictError(req, conflicts);
    const hold: Hold = { id: crypto.randomUUID(), req, expires: Date.now() + holdMs };
    this.#holds.set(hold.id, hold);
    return hold;
  }

  /** Commits to the calendar first (If-None-Match); only then is the booking real. */
  async #commit(hold: Hold): Promise<Reservation> {
    try {
      const uid = `labhog-${crypto.randomUUID()}`;
      const lab = this.#lab();
      const ics = newEventIcs(uid, hold.req, lab, mappingContext(lab, this.#resource));
      const obj = await (await this.#calendar()).create(uid, ics);
      await this.#store(obj);
      if (hold.req.leaseTtl) {
        const lease: Lease = { uid, ttl: hold.req.leaseTtl, lastKeepalive: Date.now() };
        this.#leases.set(uid, lease);
        await this.ctx.storage.put(`lease:${uid}`, lease);
      }
      this.#changed();
      const r = this.#reservations(Date.parse(hold.req.start) - 1, Date.parse(hold.req.end) + 1).find((x) => x.uid === uid);
      if (!r) throw new LabhogError("internal", 500, "the new event does not read back as a reservation");
      return strip(r);
    } finally {
      this.#holds.delete(hold.id);
    }
  }

  #changed(): void {
    this.#notify();
    this.#requestPublish();
    void this.#arm();
  }

  // ── RPC: reads ──────────────────────────────────────────────────────────

  async list(resource: string, from: string, to: string): Promise<Result<Reservation[]>> {
    return this.#run(resource, async () => this.#reservations(Date.parse(from), Date.parse(to)).map(strip), false);
  }

  async get(resource: string, id: string): Promise<Result<Reservation>> {
    return this.#run(resource, async () => strip(this.#find(id)), false);
  }

  async snapshot(resource: string): Promise<Result<ResourceSnapshot>> {
    return this.#run(
      resource,
      async () => {
        const now = Date.now();
        const rs = this.#reservations(now, now + CONFLICT_HORIZON_MS);
        const current = rs.filter((r) => r.state === "active").map(strip);
        const next = rs.find((r) => r.state === "upcoming");
        return {
          current,
          next: next ? strip(next) : null,
          conflicts: rs.filter((r) => r.state === "conflict").length,
          lastSync: this.#meta.lastSyncAt ? new Date(this.#meta.lastSyncAt).toISOString() : null,
          seq: this.#meta.seq,
          publishPending: this.#meta.publishPending,
        };
      },
      false,
    );
  }

  // ── RPC: writes ─────────────────────────────────────────────────────────

  async book(resource: string, req: BookRequest): Promise<Result<Reservation>> {
    return this.#run(resource, async () => {
      await this.#syncIfStale();
      return this.#commit(this.#takeHold(req, HOLD_MS));
    });
  }

  /** Two-phase booking, phase one: checks and holds the slot (others see it as taken) without writing. */
  async hold(resource: string, req: BookRequest, holdMs = HOLD_MS): Promise<Result<string>> {
    return this.#run(resource, async () => {
      await this.#syncIfStale();
      const h = this.#takeHold(req, Math.min(holdMs, HOLD_MS));
      void this.#arm();
      return h.id;
    });
  }

  /** Phase two: writes the held booking to the calendar. */
  async commitHold(resource: string, holdId: string): Promise<Result<Reservation>> {
    return this.#run(resource, async () => {
      const h = this.#holds.get(holdId);
      if (!h || h.expires < Date.now()) throw new ConflictError("the hold expired before it was committed", { resource });
      return this.#commit(h);
    });
  }

  async releaseHold(resource: string, holdId: string): Promise<Result<boolean>> {
    return this.#run(resource, async () => {
      const had = this.#holds.delete(holdId);
      if (had) this.#notify();
      return had;
    });
  }

  /** Extend, shorten or move. Occurrences of recurring events are changed in the calendar app. */
  async change(resource: string, id: string, change: ReservationChange): Promise<Result<Reservation>> {
    return this.#run(resource, async () => {
      await this.#syncIfStale();
      const r = this.#find(id);
      if (r.recurrenceId) throw new LabhogError("recurring", 422, "this is one occurrence of a recurring event: change the series in the calendar", { id });
      if (r.state === "ended") throw new ConflictError("the reservation is over already", { id });
      if (r.state === "conflict") throw new ConflictError("the reservation lost a conflict; resolve it in the calendar", { id });
      const next = { start: change.start ?? r.start, end: change.end ?? r.end, exclusive: r.exclusive };
      if (r.state === "active" && change.start && Date.parse(change.start) !== Date.parse(r.start)) throw new ConflictError("a running reservation cannot be moved; extend, shorten or release it", { id });
      this.#validate(next);
      const conflicts = this.#conflictsWith(next, r.uid);
      if (conflicts.length) throw this.#conflictError({ ...next, holder: r.holder.id ?? "", purpose: r.purpose }, conflicts);
      const obj = this.#objects.get(r.objectId)!;
      const patch = {
        ...(change.start ? { start: next.start } : {}),
        ...(change.end ? { end: next.end } : {}),
        ...(change.purpose !== undefined ? { summary: `${r.holder.id ?? r.holder.raw}: ${change.purpose.replace(/[\r\n]+/g, " ")}` } : {}),
      };
      await this.#store(await (await this.#calendar()).update(obj.id, patchIcs(obj.ics, patch, this.#lab()), obj.etag));
      this.#changed();
      return strip(this.#find(r.id));
    });
  }

  /** Ends a running reservation now; an upcoming one is cancelled. */
  async release(resource: string, id: string): Promise<Result<Reservation>> {
    return this.#run(resource, async () => this.#release(id, "release"));
  }

  /** Cancels an upcoming reservation (a running one must be released). */
  async cancel(resource: string, id: string): Promise<Result<Reservation>> {
    return this.#run(resource, async () => this.#release(id, "cancel"));
  }

  async #release(id: string, how: "release" | "cancel"): Promise<Reservation> {
    const r = this.#find(id);
    if (r.recurrenceId) throw new LabhogError("recurring", 422, "this is one occurrence of a recurring event: change the series in the calendar", { id });
    if (r.state === "ended") throw new ConflictError("the reservation is over already", { id });
    const obj = this.#objects.get(r.objectId)!;
    let out: Reservation;
    // Released within its first second: iCalendar has second precision, so it is cancelled instead.
    if (r.state === "active" && how === "release" && Date.now() < Date.parse(r.start) + 1000) {
      await (await this.#calendar()).delete(obj.id, obj.etag);
      await this.#forget(obj.id);
      out = { ...strip(r), end: new Date().toISOString(), state: "ended" };
    } else if (r.state === "active") {
      if (how === "cancel") throw new ConflictError("the reservation is running: release it instead of cancelling", { id });
      const end = new Date(Math.max(Date.now(), Date.parse(r.start) + 1000)).toISOString();
      const updated = await (await this.#calendar()).update(obj.id, patchIcs(obj.ics, { end }, this.#lab()), obj.etag);
      await this.#store(updated);
      out = { ...strip(r), end, state: "ended" };
    } else {
      await (await this.#calendar()).delete(obj.id, obj.etag);
      await this.#forget(obj.id);
      out = { ...strip(r), state: "ended" };
    }
    if (this.#leases.delete(r.uid)) await this.ctx.storage.delete(`lease:${r.uid}`);
    this.#changed();
    return out;
  }

  /** Undoes a booking this Worker just made (a failed atomic multi-resource booking). */
  async retract(resource: string, id: string): Promise<Result<boolean>> {
    return this.#run(resource, async () => {
      const r = this.#find(id);
      if (r.source !== "api") throw new ValidationError("only API-made reservations can be retracted", { id });
      const obj = this.#objects.get(r.objectId)!;
      await (await this.#calendar()).delete(obj.id, obj.etag);
      await this.#forget(obj.id);
      if (this.#leases.delete(r.uid)) await this.ctx.storage.delete(`lease:${r.uid}`);
      this.#changed();
      return true;
    });
  }

  async keepalive(resource: string, id: string): Promise<Result<LeaseInfo>> {
    return this.#run(resource, async () => {
      const r = this.#find(id);
      const lease = this.#leases.get(r.uid);
      if (!lease) throw new ValidationError("this reservation is not a lease", { id });
      if (r.state === "ended") throw new ConflictError("the lease has ended", { id });
      lease.lastKeepalive = Date.now();
      await this.ctx.storage.put(`lease:${r.uid}`, lease);
      await this.#arm();
      return { id: r.id, ttl: lease.ttl, expiresAt: new Date(lease.lastKeepalive + lease.ttl * 1000).toISOString() };
    });
  }

  /**
   * Seam for usage mirroring (issue 5): applies a patch (usage, live line,
   * summary, times) to a reservation's event with If-Match, then republishes.
   * Rights are the caller's business.
   */
  async patchEvent(resource: string, id: string, patch: EventPatch): Promise<Result<Reservation>> {
    return this.#run(resource, async () => {
      const r = this.#find(id);
      const obj = this.#objects.get(r.objectId)!;
      await this.#store(await (await this.#calendar()).update(obj.id, patchIcs(obj.ics, patch, this.#lab(), r.recurrenceId), obj.etag));
      this.#changed();
      return strip(this.#find(r.id));
    });
  }

  /**
   * Usage mirroring (issue 5, worker/usage/mirror.ts) runs here, in the only
   * writer of this calendar: live line on the running reservation, unbooked
   * use, no-shows. Its state persists in this DO's storage.
   */
  async mirrorUsage(resource: string, live: LiveUsage): Promise<Result<MirrorOutcome>> {
    return this.#run(resource, async () => this.#mirror(live));
  }

  #mirrorIntervalMs(): number {
    const ms = Number(this.#env().USAGE_WRITE_INTERVAL_MS ?? 60_000);
    return Number.isFinite(ms) && ms >= 0 ? ms : 60_000;
  }

  /** Runs the mirror with `live` (a report, or the throttled one the alarm flushes). Call inside #serial. */
  async #mirror(live: LiveUsage): Promise<MirrorOutcome> {
    const state = (await this.ctx.storage.get<MirrorState>("mirror")) ?? emptyMirrorState();
    const cal = await this.#calendar();
    const port: MirrorPort = {
      lab: this.#lab(),
      resource: this.#resource,
      log: this.#log,
      reservations: (from, to) => this.#reservations(from, to),
      object: (id) => this.#objects.get(id),
      update: async (id, ics, etag) => this.#store(await cal.update(id, ics, etag)),
      create: async (uid, ics) => {
        const o = await cal.create(uid, ics);
        await this.#store(o);
        return { id: o.id };
      },
      release: async (id) => {
        await this.#release(id, "release");
      },
    };
    const minIntervalMs = this.#mirrorIntervalMs();
    const out = await mirrorUsage(port, state, live, { now: Date.now(), minIntervalMs });
    // A line held back by the throttle is written by the alarm once the interval has passed.
    this.#mirrorDueAt = state.pending ? state.writtenAt + minIntervalMs : undefined;
    await this.ctx.storage.put("mirror", state);
    if (out.wrote === "live-line" || out.unbooked || out.noShows.length) this.#changed();
    else if (this.#mirrorDueAt !== undefined) await this.#arm();
    return out;
  }

  async #flushMirror(): Promise<void> {
    if (this.#mirrorDueAt === undefined || Date.now() < this.#mirrorDueAt) return;
    const state = await this.ctx.storage.get<MirrorState>("mirror");
    this.#mirrorDueAt = undefined;
    if (!state?.pending) return;
    try {
      await this.#mirror(state.pending);
    } catch (e) {
      this.#log.warn("could not write the held-back usage line", { error: e });
    }
  }

  /** The cached calendar objects as iCalendar text (feeds, diagnosis). The calendar stays the truth. */
  async calendarObjects(resource: string): Promise<Result<CalendarObject[]>> {
    return this.#run(resource, async () => [...this.#objects.values()], false);
  }

  /** Resolves when anything on this resource changes, or after `timeoutMs`. For bounded waits. */
  async waitForChange(resource: string, timeoutMs: number): Promise<Result<boolean>> {
    return this.#run(
      resource,
      () =>
        new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            this.#waiters.delete(wake);
            resolve(false);
          }, Math.max(0, Math.min(timeoutMs, MAX_WAIT_MS)));
          const wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
          this.#waiters.add(wake);
        }),
      false,
    );
  }

  /** Syncs at once (push endpoints call this); returns whether anything changed. */
  async syncNow(resource: string): Promise<Result<boolean>> {
    return this.#run(resource, async () => {
      const changed = await this.#sync();
      await this.#arm();
      return changed;
    });
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

  // ── alarm: sync, leases, boundaries, publish retries ───────────────────

  override async alarm(): Promise<void> {
    if (!this.#meta.resource) return;
    try {
      await this.#serial(async () => {
        try {
          await this.#sync();
        } catch (e) {
          this.#log.warn("sync failed", { error: e });
          this.#meta.lastSyncAt = Date.now();
        }
        await this.#endStaleLeases();
        await this.#flushMirror();
      });
      await this.#keepGoogleChannel();
      const now = Date.now();
      if (this.#meta.publishPending || this.#boundaryPassed(now)) this.#requestPublish();
      await this.#publishing;
    } catch (e) {
      this.#log.error("alarm failed", { error: e });
    } finally {
      await this.#arm();
    }
  }

  /** Opens or replaces the Google watch channel when due (push endpoint: worker/push). A failure is retried in a minute. */
  async #keepGoogleChannel(): Promise<void> {
    const push = googlePushConfig(this.#env());
    if (!push) return;
    try {
      const cal = await this.#calendar();
      if (cal.kind !== "google" || !isWatchable(cal)) return;
      const next = await ensureChannel({ backend: cal, resource: this.#resource, secret: push.secret, publicUrl: push.publicUrl, stored: this.#channel, now: Date.now(), log: this.#log });
      this.#channelRetryAt = undefined;
      if (next && next !== this.#channel) {
        this.#channel = next;
        await this.ctx.storage.put("google-channel", next);
      }
    } catch (e) {
      this.#channelRetryAt = Date.now() + 60_000;
      this.#log.warn("could not open the google push channel", { error: e });
    }
  }

  async #endStaleLeases(): Promise<void> {
    const now = Date.now();
    for (const lease of [...this.#leases.values()]) {
      if (lease.lastKeepalive + lease.ttl * 1000 > now) continue;
      this.#log.info("lease expired", { uid: lease.uid });
      try {
        await this.#release(lease.uid, "release");
      } catch (e) {
        if (e instanceof NotFoundError || e instanceof ConflictError) {
          this.#leases.delete(lease.uid);
          await this.ctx.storage.delete(`lease:${lease.uid}`);
        } else this.#log.warn("could not end expired lease", { uid: lease.uid, error: e });
      }
    }
  }

  #boundaries(now: number): number[] {
    const windowMs = durationSeconds(this.#lab().policy.scheduleWindow) * 1000;
    const out: number[] = [];
    for (const r of this.#reservations(now, now + windowMs)) for (const t of [Date.parse(r.start), Date.parse(r.end)]) if (t > now) out.push(t);
    // Re-publish well before the schedule's validUntil.
    out.push(this.#meta.publishedAt + windowMs / 2);
    return out;
  }

  #boundaryPassed(now: number): boolean {
    const last = this.#meta.publishedAt;
    if (!last) return true;
    const windowMs = durationSeconds(this.#lab().policy.scheduleWindow) * 1000;
    if (now - last > windowMs / 2) return true;
    return this.#reservations(last, now + 1).some((r) => [Date.parse(r.start), Date.parse(r.end)].some((t) => t > last && t <= now));
  }

  async #arm(): Promise<void> {
    if (!this.#meta.resource) return;
    const now = Date.now();
    const lab = this.#lab();
    const times = [this.#meta.lastSyncAt + durationSeconds(lab.policy.syncInterval) * 1000, ...this.#boundaries(now)];
    for (const l of this.#leases.values()) times.push(l.lastKeepalive + l.ttl * 1000);
    for (const h of this.#holds.values()) times.push(h.expires);
    if (this.#meta.publishPending) times.push(now + PUBLISH_RETRY_MS);
    const renew = this.#channelRetryAt ?? renewalDue(this.#channel);
    if (renew !== undefined) times.push(renew);
    if (this.#mirrorDueAt !== undefined) times.push(this.#mirrorDueAt);
    const at = Math.max(now + 100, Math.min(...times));
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at || current < now) await this.ctx.storage.setAlarm(at);
  }

  // ── publishing (never blocks a booking) ─────────────────────────────────

  #requestPublish(): void {
    if (this.#publishing) {
      this.#publishAgain = true;
      return;
    }
    this.#publishing = this.#publishLoop().finally(() => (this.#publishing = undefined));
    this.ctx.waitUntil(this.#publishing);
  }

  async #publishLoop(): Promise<void> {
    do {
      this.#publishAgain = false;
      const now = Date.now();
      const windowMs = durationSeconds(this.#lab().policy.scheduleWindow) * 1000;
      const entries = this.#reservations(now, now + windowMs).filter((r) => (r.state === "active" || r.state === "upcoming") && !isUnbookedUse(r));
      this.#meta.seq += 1;
      this.#meta.publishPending = true;
      await this.#saveMeta();
      let ok = false;
      try {
        ok = await publishSchedule(this.#env(), this.#lab(), this.#resource, this.#meta.seq, new Date(now), windowMs, entries, this.#log);
      } catch (e) {
        this.#log.warn("schedule publish failed", { error: e });
      }
      this.#meta.publishPending = !ok;
      if (ok) this.#meta.publishedAt = now;
      await this.#saveMeta();
    } while (this.#publishAgain);
    await this.#arm();
  }
}

function strip(r: Reservation & { objectId?: string }): Reservation {
  const { objectId: _omit, ...rest } = r;
  return rest;
}
