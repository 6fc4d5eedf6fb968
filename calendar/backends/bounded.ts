/**
 * Any CalendarBackend, every call bounded by a total deadline: the call gets
 * the deadline's signal (so a backend that honours it stops its requests),
 * and the caller gets its answer or CalendarTimeoutError when the deadline
 * passes, even from a backend that ignores the signal. The caldav backend
 * bounds itself (it knows its retries); this is for the others (google), and
 * it fills in `verify` by a full sync for backends that lack one.
 */
import type { CalendarBackend, CalendarObject, CallOptions, SyncOptions, SyncResult, VerifyResult } from "./backend.ts";
import type { TimeWindow } from "../model.ts";
import { Deadline } from "./deadline.ts";
import { verifyByFullSync } from "./verify.ts";

export interface BoundedOptions {
  /** Per call unless the call says otherwise. */
  deadlineMs: number;
}

type Inner = Omit<CalendarBackend, "verify"> & Partial<Pick<CalendarBackend, "verify">>;

export function bounded<B extends Inner>(inner: B, opts: BoundedOptions): CalendarBackend & { readonly inner: B } {
  const run = <T>(what: string, options: CallOptions | undefined, fn: (o: { signal: AbortSignal }) => Promise<T>): Promise<T> =>
    new Deadline(options?.deadlineMs ?? opts.deadlineMs, `${inner.kind} ${what}`, options?.signal).run((d) => fn({ signal: d.signal }));
  const backend: CalendarBackend & { readonly inner: B } = {
    kind: inner.kind,
    inner,
    list: (window: TimeWindow, o?: CallOptions) => run("list", o, (s) => inner.list(window, { ...o, ...s })),
    sync: (token: string | null, o?: SyncOptions): Promise<SyncResult> => run("sync", o, (s) => inner.sync(token, { ...o, ...s })),
    verify: (known: ReadonlyMap<string, string>, o?: SyncOptions): Promise<VerifyResult> =>
      run("verify", o, (s) => (inner.verify ? inner.verify(known, { ...o, ...s }) : verifyByFullSync(inner, known, { ...o, ...s }))),
    get: (id: string, o?: CallOptions): Promise<CalendarObject> => run("get", o, (s) => inner.get(id, { ...o, ...s })),
    create: (uid: string, ics: string, o?: CallOptions) => run("create", o, (s) => inner.create(uid, ics, { ...o, ...s })),
    update: (id: string, ics: string, etag: string, o?: CallOptions) => run("update", o, (s) => inner.update(id, ics, etag, { ...o, ...s })),
    delete: (id: string, etag?: string, o?: CallOptions) => run("delete", o, (s) => inner.delete(id, etag, { ...o, ...s })),
  };
  return backend;
}
