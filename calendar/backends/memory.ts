/**
 * The `memory` backend: labhog's embedded default and the reference the other
 * backends are held to (test/calendar/contract). State lives in a
 * KeyValueStore, so the Worker can keep it in Durable Object storage and Node
 * in a Map.
 *
 * Sync tokens are `mem1.<epoch>.<counter>`: every write bumps the counter and
 * appends to a bounded change log. A token older than the log, from another
 * store (epoch), from the future, or unparseable gets a full listing.
 */
import { unchangedFor, type CalendarBackend, type CalendarObject, type CallOptions, type SyncOptions, type SyncResult, type VerifyResult } from "./backend.ts";
import type { TimeWindow } from "../model.ts";
import { ConflictError, InvalidEventError, NotFoundError, PreconditionFailedError, ValidationError } from "../errors.ts";
import { MapStore, type KeyValueStore } from "./kv-store.ts";
import { overlapsWindow, spanMayOverlap, spanOf, type Span } from "./time-range.ts";
import { verifyByFullSync } from "./verify.ts";
import { serialQueue } from "../serial-queue.ts";

/** A series too costly to walk is listed anyway: the mapping reports it as that object's error, the rest list as usual. */
function overlapsSafely(ics: string, window: TimeWindow, id: string): boolean {
  try {
    return overlapsWindow(ics, window, id);
  } catch (e) {
    if (e instanceof InvalidEventError) return true;
    throw e;
  }
}

export interface MemoryBackendOptions {
  store?: KeyValueStore;
  /** Changes remembered for incremental sync; older tokens get a full resync. */
  maxChangeLog?: number;
  /** Key prefix, so several calendars can share one store. */
  prefix?: string;
}

interface Meta {
  epoch: string;
  counter: number;
  /** Tokens with a counter below this predate the log. */
  oldestValid: number;
  logSize: number;
}

interface Stored {
  id: string;
  uid: string;
  etag: string;
  ics: string;
  span: Span;
}

interface LogEntry {
  id: string;
}

const TOKEN = /^mem1\.([a-z0-9]{1,32})\.(\d{1,15})$/;
const SEQ_DIGITS = 15;
const pad = (n: number) => String(n).padStart(SEQ_DIGITS, "0");
const PROGRESS_EVERY = 500;

export class MemoryBackend implements CalendarBackend {
  readonly kind = "memory" as const;
  readonly #store: KeyValueStore;
  readonly #maxLog: number;
  readonly #p: string;
  /** Writes are serialized: read-check-write of etags and the counter must not interleave. */
  #serial = serialQueue();

  constructor(options: MemoryBackendOptions = {}) {
    this.#store = options.store ?? new MapStore();
    this.#maxLog = Math.max(1, options.maxChangeLog ?? 10_000);
    this.#p = options.prefix ?? "";
  }


  #objKey(id: string) { return `${this.#p}obj/${id}`; }
  #logPrefix() { return `${this.#p}log/`; }

  async #meta(): Promise<Meta> {
    const m = await this.#store.get<Meta>(`${this.#p}meta`);
    if (m) return m;
    const fresh: Meta = { epoch: crypto.randomUUID().replace(/-/g, "").slice(0, 16), counter: 0, oldestValid: 0, logSize: 0 };
    await this.#store.put(`${this.#p}meta`, fresh);
    return fresh;
  }

  #token(m: Meta): string {
    return `mem1.${m.epoch}.${m.counter}`;
  }

  /** The etag the next write will get (written before the log entry, so a crash in between reads as a change). */
  #nextEtag(m: Meta): string {
    return `"${m.epoch}-${m.counter + 1}"`;
  }

  /** Records a change to `id` in the log and trims the log to its bound. */
  async #bump(m: Meta, id: string): Promise<void> {
    m.counter += 1;
    await this.#store.put<LogEntry>(`${this.#logPrefix()}${pad(m.counter)}`, { id });
    m.logSize += 1;
    // The log is contiguous: seqs counter-logSize+1 … counter.
    while (m.logSize > this.#maxLog) {
      const oldest = m.counter - m.logSize + 1;
      await this.#store.delete(`${this.#logPrefix()}${pad(oldest)}`);
      m.logSize -= 1;
      // A token at `oldest` only needs what came after it, so it stays valid.
      m.oldestValid = oldest;
    }
    await this.#store.put(`${this.#p}meta`, m);
  }

  static #check(uid: string, ics: string): Span {
    if (!uid) throw new ValidationError("empty UID");
    const span = spanOf(ics);
    if (!ics.includes(uid)) throw new ValidationError(`the object does not carry UID ${uid}`);
    return span;
  }

  // Memory calls never wait on a network; `options` only lets an aborted caller stop early.
  async list(window: TimeWindow, options: CallOptions = {}): Promise<CalendarObject[]> {
    options.signal?.throwIfAborted();
    const all = await this.#store.list<Stored>({ prefix: `${this.#p}obj/` });
    const out: CalendarObject[] = [];
    for (const o of all.values()) {
      if (!spanMayOverlap(o.span, window)) continue;
      if (o.span.recurring && !overlapsSafely(o.ics, window, o.id)) continue;
      out.push({ id: o.id, etag: o.etag, ics: o.ics });
    }
    return out;
  }

  async sync(token: string | null, options: SyncOptions = {}): Promise<SyncResult> {
    options.signal?.throwIfAborted();
    const m = await this.#meta();
    const parsed = token === null ? null : TOKEN.exec(token);
    const since = parsed && parsed[1] === m.epoch ? Number(parsed[2]) : NaN;
    if (Number.isSafeInteger(since) && since >= m.oldestValid && since <= m.counter) {
      const log = await this.#store.list<LogEntry>({ prefix: this.#logPrefix(), start: `${this.#logPrefix()}${pad(since + 1)}` });
      const touched = new Set<string>();
      for (const e of log.values()) touched.add(e.id);
      const changed: CalendarObject[] = [];
      const deleted: string[] = [];
      for (const id of touched) {
        const o = await this.#store.get<Stored>(this.#objKey(id));
        if (!o) deleted.push(id);
        else if (!unchangedFor(options, o.id, o.etag)) changed.push({ id: o.id, etag: o.etag, ics: o.ics });
      }
      options.onProgress?.({ fetched: changed.length, total: changed.length });
      return { changed, deleted, token: this.#token(m), full: false };
    }
    const all = await this.#store.list<Stored>({ prefix: `${this.#p}obj/` });
    const changed: CalendarObject[] = [];
    for (const o of all.values()) {
      changed.push({ id: o.id, etag: o.etag, ics: o.ics });
      if (changed.length % PROGRESS_EVERY === 0) options.onProgress?.({ fetched: changed.length, total: all.size });
    }
    options.onProgress?.({ fetched: changed.length, total: all.size });
    return { changed, deleted: [], token: this.#token(m), full: true };
  }

  /** The change log is bounded and reports its gaps, so a full listing is the whole check. */
  verify(known: ReadonlyMap<string, string>, options: SyncOptions = {}): Promise<VerifyResult> {
    return verifyByFullSync(this, known, options);
  }

  async get(id: string, options: CallOptions = {}): Promise<CalendarObject> {
    options.signal?.throwIfAborted();
    const o = await this.#store.get<Stored>(this.#objKey(id));
    if (!o) throw new NotFoundError(`no calendar object ${id}`, { id });
    return { id: o.id, etag: o.etag, ics: o.ics };
  }

  async create(uid: string, ics: string, options: CallOptions = {}): Promise<CalendarObject> {
    options.signal?.throwIfAborted();
    const span = MemoryBackend.#check(uid, ics);
    return this.#serial(async () => {
      const id = uid;
      if (await this.#store.get(this.#objKey(id))) throw new ConflictError(`an object with UID ${uid} exists`, { uid });
      const m = await this.#meta();
      const etag = this.#nextEtag(m);
      await this.#store.put<Stored>(this.#objKey(id), { id, uid, etag, ics, span });
      await this.#bump(m, id);
      return { id, etag, ics };
    });
  }

  update(id: string, ics: string, etag: string, options: CallOptions = {}): Promise<CalendarObject> {
    options.signal?.throwIfAborted();
    return this.#serial(async () => {
      const o = await this.#store.get<Stored>(this.#objKey(id));
      if (!o) throw new NotFoundError(`no calendar object ${id}`, { id });
      if (o.etag !== etag) throw new PreconditionFailedError(`${id} changed since etag ${etag}`, { id, etag, current: o.etag });
      const span = MemoryBackend.#check(o.uid, ics);
      const m = await this.#meta();
      const next = this.#nextEtag(m);
      await this.#store.put<Stored>(this.#objKey(id), { ...o, etag: next, ics, span });
      await this.#bump(m, id);
      return { id, etag: next, ics };
    });
  }

  delete(id: string, etag?: string, options: CallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    return this.#serial(async () => {
      const o = await this.#store.get<Stored>(this.#objKey(id));
      if (!o) throw new NotFoundError(`no calendar object ${id}`, { id });
      if (etag !== undefined && o.etag !== etag) throw new PreconditionFailedError(`${id} changed since etag ${etag}`, { id, etag, current: o.etag });
      await this.#store.delete(this.#objKey(id));
      await this.#bump(await this.#meta(), id);
    });
  }
}
