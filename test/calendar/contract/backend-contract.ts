/**
 * The CalendarBackend contract: the semantics every backend (memory, caldav,
 * google) must share. Runs unchanged in Node and inside workerd, so no node:
 * imports here or in what this file imports.
 *
 * `make` must return a backend on an EMPTY calendar; `cleanup` removes it.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CalendarBackend, CalendarObject, SyncProgress, SyncResult } from "../../../calendar/backends/backend.ts";
import { ConflictError, NotFoundError, PreconditionFailedError } from "../../../calendar/errors.ts";
import { day, hour, icsEvent, testUid } from "./ics-builder.ts";

export interface ContractSubject {
  backend: CalendarBackend;
  cleanup(): Promise<void>;
}

const base = Date.UTC(2030, 0, 1, 9); // 2030-01-01T09:00Z, far from "now" on purpose
const at = (days: number, hours = 0) => new Date(base + days * day + hours * hour);

function event(label: string, startDay: number, extra: { summary?: string; rrule?: string; hours?: number } = {}) {
  const uid = testUid(label);
  const ics = icsEvent({ uid, start: at(startDay), end: at(startDay, extra.hours ?? 1), summary: extra.summary ?? label, rrule: extra.rrule });
  return { uid, ics };
}

async function rejectsWith(p: Promise<unknown>, type: abstract new (...args: never[]) => Error): Promise<Error> {
  try {
    await p;
  } catch (e) {
    expect(e, `expected ${type.name}, got ${String(e)}`).toBeInstanceOf(type);
    return e as Error;
  }
  throw new Error(`expected ${type.name}, but the call succeeded`);
}

const ids = (objs: CalendarObject[]) => objs.map((o) => o.id).sort();

/** Runs fn over items with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  }));
  return out;
}

export function backendContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`CalendarBackend contract: ${name}`, () => {
    let subject: ContractSubject | undefined;
    let b: CalendarBackend;

    beforeEach(async () => {
      subject = await make();
      b = subject.backend;
    });
    afterEach(async () => {
      await subject?.cleanup();
      subject = undefined;
    });

    describe("objects", () => {
      it("creates an object and gets it back with an etag", async () => {
        const e = event("create", 1, { summary: "alice: flashing" });
        const created = await b.create(e.uid, e.ics);
        expect(created.id).toBeTruthy();
        expect(created.etag).toBeTruthy();
        const got = await b.get(created.id);
        expect(got.id).toBe(created.id);
        expect(got.etag).toBe(created.etag);
        expect(got.ics).toContain(e.uid);
        expect(got.ics).toContain("alice: flashing");
      });

      it("refuses a second create with the same UID (ConflictError) and keeps the first", async () => {
        const e = event("dup", 1, { summary: "first" });
        const first = await b.create(e.uid, e.ics);
        const again = icsEvent({ uid: e.uid, start: at(2), end: at(2, 1), summary: "second" });
        await rejectsWith(b.create(e.uid, again), ConflictError);
        const got = await b.get(first.id);
        expect(got.ics).toContain("first");
        expect(got.ics).not.toContain("second");
        expect(got.etag).toBe(first.etag);
      });

      it("updates with the current etag and hands out a new etag", async () => {
        const e = event("update", 1, { summary: "before" });
        const created = await b.create(e.uid, e.ics);
        const changed = icsEvent({ uid: e.uid, start: at(1), end: at(1, 2), summary: "after" });
        const updated = await b.update(created.id, changed, created.etag);
        expect(updated.id).toBe(created.id);
        expect(updated.etag).toBeTruthy();
        expect(updated.etag).not.toBe(created.etag);
        const got = await b.get(created.id);
        expect(got.ics).toContain("after");
        expect(got.etag).toBe(updated.etag);
      });

      it("refuses an update with a stale etag (PreconditionFailedError) and keeps the newer content", async () => {
        const e = event("stale", 1, { summary: "v1" });
        const v1 = await b.create(e.uid, e.ics);
        const v2 = await b.update(v1.id, icsEvent({ uid: e.uid, start: at(1), end: at(1, 1), summary: "v2" }), v1.etag);
        await rejectsWith(b.update(v1.id, icsEvent({ uid: e.uid, start: at(1), end: at(1, 1), summary: "v3" }), v1.etag), PreconditionFailedError);
        const got = await b.get(v1.id);
        expect(got.ics).toContain("v2");
        expect(got.etag).toBe(v2.etag);
      });

      it("deletes with the current etag; then get is NotFoundError", async () => {
        const e = event("delete", 1);
        const created = await b.create(e.uid, e.ics);
        await b.delete(created.id, created.etag);
        await rejectsWith(b.get(created.id), NotFoundError);
      });

      it("deletes without an etag", async () => {
        const e = event("delete-any", 1);
        const created = await b.create(e.uid, e.ics);
        await b.delete(created.id);
        await rejectsWith(b.get(created.id), NotFoundError);
      });

      it("refuses a delete with a stale etag (PreconditionFailedError) and keeps the object", async () => {
        const e = event("delete-stale", 1, { summary: "v1" });
        const v1 = await b.create(e.uid, e.ics);
        const v2 = await b.update(v1.id, icsEvent({ uid: e.uid, start: at(1), end: at(1, 1), summary: "v2" }), v1.etag);
        await rejectsWith(b.delete(v1.id, v1.etag), PreconditionFailedError);
        expect((await b.get(v1.id)).etag).toBe(v2.etag);
      });

      it("reports missing objects as NotFoundError (get, delete) and refuses updates of them", async () => {
        const e = event("gone", 1);
        const created = await b.create(e.uid, e.ics);
        await b.delete(created.id);
        await rejectsWith(b.get(created.id), NotFoundError);
        await rejectsWith(b.delete(created.id), NotFoundError);
        // If-Match on a missing resource: HTTP says 412, an API may say 404; both mean "not what you thought".
        await expect(b.update(created.id, e.ics, created.etag)).rejects.toSatisfy(
          (err: unknown) => err instanceof NotFoundError || err instanceof PreconditionFailedError,
        );
      });

      it("can create again after a delete of the same UID", async () => {
        const e = event("recreate", 1, { summary: "old" });
        const first = await b.create(e.uid, e.ics);
        await b.delete(first.id, first.etag);
        const second = await b.create(e.uid, icsEvent({ uid: e.uid, start: at(1), end: at(1, 1), summary: "new" }));
        expect((await b.get(second.id)).ics).toContain("new");
      });
    });

    describe("list over a window", () => {
      it("returns the objects with an event in the window, including a series that started before it", async () => {
        const inside = event("inside", 10);
        const before = event("before", 2);
        const after = event("after", 20);
        // Daily from day 0 for 30 days: DTSTART is before the window, occurrences fall inside it.
        const series = event("series", 0, { rrule: "FREQ=DAILY;COUNT=30" });
        const spanning = event("spanning", 9, { hours: 72 }); // starts before, ends inside
        const created = new Map<string, CalendarObject>();
        for (const e of [inside, before, after, series, spanning]) created.set(e.uid, await b.create(e.uid, e.ics));
        const got = await b.list({ start: at(10, -1), end: at(11) });
        const gotIds = ids(got);
        expect(gotIds).toContain(created.get(inside.uid)!.id);
        expect(gotIds).toContain(created.get(series.uid)!.id);
        expect(gotIds).toContain(created.get(spanning.uid)!.id);
        expect(gotIds).not.toContain(created.get(before.uid)!.id);
        expect(gotIds).not.toContain(created.get(after.uid)!.id);
        const s = got.find((o) => o.id === created.get(series.uid)!.id)!;
        expect(s.ics).toContain("RRULE"); // the series whole, not one occurrence
        expect(s.etag).toBe(created.get(series.uid)!.etag);
      });

      it("returns nothing for an empty window", async () => {
        const e = event("lonely", 5);
        await b.create(e.uid, e.ics);
        expect(await b.list({ start: at(100), end: at(101) })).toEqual([]);
      });
    });

    describe("sync", () => {
      it("a sync from null is a full listing with a token", async () => {
        const es = [event("s1", 1), event("s2", 2), event("s3", 3)];
        const created = [];
        for (const e of es) created.push(await b.create(e.uid, e.ics));
        const r = await b.sync(null);
        expect(r.full).toBe(true);
        expect(r.token).toBeTruthy();
        expect(r.deleted).toEqual([]);
        expect(ids(r.changed)).toEqual(ids(created));
        for (const c of created) {
          const o = r.changed.find((x) => x.id === c.id)!;
          expect(o.etag).toBe(c.etag);
          expect(o.ics).toContain("BEGIN:VEVENT");
        }
      });

      it("a full sync of an empty calendar is empty", async () => {
        const r = await b.sync(null);
        expect(r).toMatchObject({ full: true, changed: [], deleted: [] });
        expect(r.token).toBeTruthy();
      });

      it("an incremental sync returns only what changed: created, updated, deleted", async () => {
        const keep = event("keep", 1);
        const upd = event("upd", 2, { summary: "before" });
        const del = event("del", 3);
        await b.create(keep.uid, keep.ics);
        const u = await b.create(upd.uid, upd.ics);
        const d = await b.create(del.uid, del.ics);
        const t0 = (await b.sync(null)).token;

        const quiet = await b.sync(t0);
        expect(quiet).toMatchObject({ full: false, changed: [], deleted: [] });

        const add = event("add", 4);
        const a = await b.create(add.uid, add.ics);
        const r1 = await b.sync(quiet.token);
        expect(r1.full).toBe(false);
        expect(ids(r1.changed)).toEqual([a.id]);
        expect(r1.changed[0]!.etag).toBe(a.etag);
        expect(r1.changed[0]!.ics).toContain(add.uid);
        expect(r1.deleted).toEqual([]);

        const u2 = await b.update(u.id, icsEvent({ uid: upd.uid, start: at(2), end: at(2, 1), summary: "after" }), u.etag);
        const r2 = await b.sync(r1.token);
        expect(r2.full).toBe(false);
        expect(ids(r2.changed)).toEqual([u.id]);
        expect(r2.changed[0]!.etag).toBe(u2.etag);
        expect(r2.changed[0]!.ics).toContain("after");
        expect(r2.deleted).toEqual([]);

        await b.delete(d.id, d.etag);
        const r3 = await b.sync(r2.token);
        expect(r3.full).toBe(false);
        expect(r3.changed).toEqual([]);
        expect(r3.deleted).toEqual([d.id]);

        const r4 = await b.sync(r3.token);
        expect(r4).toMatchObject({ full: false, changed: [], deleted: [] });
      });

      it("an incremental sync leaves out what the caller holds at its current etag (its own writes), not what it holds at another", async () => {
        const mine = event("mine", 1);
        const moved = event("moved", 2, { summary: "before" });
        const m0 = await b.create(moved.uid, moved.ics);
        const t0 = (await b.sync(null)).token;
        const own = await b.create(mine.uid, mine.ics);
        const m1 = await b.update(m0.id, icsEvent({ uid: moved.uid, start: at(2), end: at(2, 1), summary: "after" }), m0.etag);
        const other = event("other", 3);
        const o = await b.create(other.uid, other.ics);
        // The caller wrote `mine` itself and holds `moved` from before its update; `other` it has never seen.
        const held = new Map([[own.id, own.etag], [m0.id, m0.etag]]);
        const r = await b.sync(t0, { knownEtag: (id) => held.get(id) });
        expect(r.full).toBe(false);
        expect(ids(r.changed)).toEqual(ids([{ ...m1, id: m0.id }, o]));
        expect(r.changed.find((x) => x.id === m0.id)!.ics).toContain("after");
        // Without the hint everything changed is listed; a full listing lists everything whatever the caller holds.
        expect(ids((await b.sync(t0)).changed)).toEqual(ids([own, m1, o]));
        const full = await b.sync(null, { knownEtag: (id) => (id === own.id ? own.etag : id === o.id ? o.etag : undefined) });
        expect(full.full).toBe(true);
        expect(ids(full.changed)).toEqual(ids([own, m1, o]));
        // Nothing but the caller's own writes changed: an empty answer.
        const own2 = await b.update(own.id, icsEvent({ uid: mine.uid, start: at(1), end: at(1, 2), summary: "longer" }), own.etag);
        expect(await b.sync(r.token, { knownEtag: (id) => (id === own.id ? own2.etag : undefined) })).toMatchObject({ full: false, changed: [], deleted: [] });
      });

      it("an old token stays usable: syncing twice from it gives the same changes", async () => {
        const t0 = (await b.sync(null)).token;
        const e = event("twice", 1);
        const c = await b.create(e.uid, e.ics);
        const r1 = await b.sync(t0);
        const r2 = await b.sync(t0);
        expect(ids(r1.changed)).toEqual([c.id]);
        expect(ids(r2.changed)).toEqual([c.id]);
        expect(r2.full).toBe(false);
      });

      it("changes between syncs are folded: several updates of one object come once", async () => {
        const e = event("fold", 1, { summary: "v0" });
        let cur = await b.create(e.uid, e.ics);
        const t0 = (await b.sync(null)).token;
        for (let i = 1; i <= 3; i++) cur = await b.update(cur.id, icsEvent({ uid: e.uid, start: at(1), end: at(1, 1), summary: `v${i}` }), cur.etag);
        const r = await b.sync(t0);
        expect(ids(r.changed)).toEqual([cur.id]);
        expect(r.changed[0]!.etag).toBe(cur.etag);
        expect(r.changed[0]!.ics).toContain("v3");
      });

      it("a garbage token means a full resync (full: true), not an error", async () => {
        const e = event("garbage", 1);
        const c = await b.create(e.uid, e.ics);
        for (const bad of ["garbage", "", "%%%", "x".repeat(300)]) {
          const r = await b.sync(bad);
          expect(r.full, `token ${JSON.stringify(bad.slice(0, 20))}`).toBe(true);
          expect(ids(r.changed)).toEqual([c.id]);
          expect(r.deleted).toEqual([]);
          expect(r.token).toBeTruthy();
          // The fresh token works incrementally.
          expect(await b.sync(r.token)).toMatchObject({ full: false, changed: [], deleted: [] });
        }
      });

      it("a real token with junk appended is refused and answered by a full resync", async () => {
        const e = event("junk", 1);
        const c = await b.create(e.uid, e.ics);
        const t = (await b.sync(null)).token;
        const r = await b.sync(t + "0bad");
        expect(r.full).toBe(true);
        expect(ids(r.changed)).toEqual([c.id]);
      });

      it("verify (the full check) finds what a pruned sync token silently skipped: changed, created, deleted", async () => {
        // The ledger's view after its last good sync: three objects and their etags.
        const keep = event("v-keep", 1);
        const upd = event("v-upd", 2, { summary: "before" });
        const del = event("v-del", 3);
        const k = await b.create(keep.uid, keep.ics);
        const u = await b.create(upd.uid, upd.ics);
        const d = await b.create(del.uid, del.ics);
        const first = await b.sync(null);
        const cache = new Map(first.changed.map((o) => [o.id, o.etag]));
        expect(cache.size).toBe(3);

        // Changes the ledger never hears of...
        const u2 = await b.update(u.id, icsEvent({ uid: upd.uid, start: at(2), end: at(2, 1), summary: "after" }), u.etag);
        await b.delete(d.id, d.etag);
        const add = event("v-add", 4);
        const a = await b.create(add.uid, add.ics);
        // ...because its token now points past them with the change rows gone:
        // what Nextcloud's pruning of calendarchanges (~60 days) does without
        // reporting a gap. The token the server hands out after the changes,
        // with their results thrown away, is exactly such a token.
        const pruned = (await b.sync(first.token)).token;
        const blind = await b.sync(pruned);
        expect(blind).toMatchObject({ full: false, changed: [], deleted: [] });

        // The full check trusts no token.
        const v = await b.verify(cache);
        expect(v.full).toBe(false);
        expect(v.checked).toBe(3);
        expect(ids(v.changed)).toEqual([a.id, u.id].sort());
        expect(v.changed.find((o) => o.id === u.id)!.etag).toBe(u2.etag);
        expect(v.changed.find((o) => o.id === u.id)!.ics).toContain("after");
        expect(v.changed.find((o) => o.id === a.id)!.ics).toContain(add.uid);
        expect(v.deleted).toEqual([d.id]);
        expect(v.changed.map((o) => o.id)).not.toContain(k.id);

        // Applied like an incremental sync, the cache is right, and its token goes on incrementally.
        for (const o of v.changed) cache.set(o.id, o.etag);
        for (const id of v.deleted) cache.delete(id);
        expect(cache).toEqual(new Map([[k.id, k.etag], [u.id, u2.etag], [a.id, a.etag]]));
        expect(await b.verify(cache)).toMatchObject({ changed: [], deleted: [], checked: 3 });
        const later = event("v-later", 5);
        const l = await b.create(later.uid, later.ics);
        const next = await b.sync(v.token);
        expect(next.full).toBe(false);
        expect(ids(next.changed)).toEqual([l.id]);
      });

      it("verify of an empty cache lists everything; of an empty calendar, nothing", async () => {
        expect(await b.verify(new Map())).toMatchObject({ full: false, changed: [], deleted: [], checked: 0 });
        const e = event("v-only", 1);
        const c = await b.create(e.uid, e.ics);
        const v = await b.verify(new Map([["/no/such/object.ics", "\"x\""]]));
        expect(ids(v.changed)).toEqual([c.id]);
        expect(v.deleted).toEqual(["/no/such/object.ics"]);
      });

      it("syncs many objects (120): full, then incremental with a few changes, with progress", async () => {
        const es = Array.from({ length: 120 }, (_, i) => event(`many${i}`, i % 40, { summary: `many ${i}` }));
        const created = await pool(es, 6, (e) => b.create(e.uid, e.ics));
        const progress: SyncProgress[] = [];
        const full: SyncResult = await b.sync(null, { onProgress: (p) => progress.push({ ...p }) });
        expect(full.full).toBe(true);
        expect(full.changed).toHaveLength(120);
        expect(ids(full.changed)).toEqual(ids(created));
        for (const c of created) expect(full.changed.find((o) => o.id === c.id)!.etag).toBe(c.etag);
        expect(progress.length).toBeGreaterThan(0);
        expect(progress.at(-1)!.fetched).toBe(120);
        for (let i = 1; i < progress.length; i++) expect(progress[i]!.fetched).toBeGreaterThanOrEqual(progress[i - 1]!.fetched);

        const updated = [];
        for (const i of [5, 50, 100]) {
          const c = created[i]!;
          updated.push(await b.update(c.id, icsEvent({ uid: es[i]!.uid, start: at(i % 40), end: at(i % 40, 3), summary: `changed ${i}` }), c.etag));
        }
        for (const i of [7, 77]) await b.delete(created[i]!.id, created[i]!.etag);
        const inc = await b.sync(full.token);
        expect(inc.full).toBe(false);
        expect(ids(inc.changed)).toEqual(ids(updated));
        expect(inc.deleted.sort()).toEqual([created[7]!.id, created[77]!.id].sort());
      }, 180_000);
    });
  });
}
