import { PreconditionFailedError } from "../../calendar/errors.ts";
import type { LedgerCore } from "./core.ts";
import { patchIcs, type CalendarObject } from "./calendar-port.ts";
import { CONFLICT_HORIZON_MS } from "./state.ts";

/** How often the sync is the full check instead (see sync()). */
export const VERIFY_EVERY_MS = 24 * 3600_000;

/**
 * Calendar → cache. An incremental sync (a full listing when the server
 * refuses the token) into the cached objects, then the losers of app-made
 * overlaps are marked in the calendar. The cache is only ever replaced by
 * what the calendar said: a failed sync changes nothing but the failure times.
 */
export async function sync(core: LedgerCore): Promise<boolean> {
  const m = core.state.meta;
  const objects = core.state.objects;
  m.lastAttemptAt = Date.now();
  let res;
  try {
    // Nextcloud prunes its change log after ~60 days without reporting the gap,
    // so a token can silently skip changes: once a day the sync is instead the
    // full check (an etag listing against the cache; applies the same way).
    const verify = m.syncToken !== null && m.lastAttemptAt - (m.lastVerifyAt ?? 0) >= VERIFY_EVERY_MS;
    res = verify
      ? await core.calendar("verify", (cal, signal) => cal.verify(new Map([...objects].map(([id, o]) => [id, o.etag])), { signal }))
      : await core.calendar("sync", (cal, signal) => cal.sync(m.syncToken, { signal, knownEtag: (id) => objects.get(id)?.etag }));
    if (verify || res.full) m.lastVerifyAt = m.lastAttemptAt;
  } catch (e) {
    if (!m.unreachableSince) m.unreachableSince = m.lastAttemptAt;
    await core.saveMeta();
    throw e;
  }
  let changed = res.full ? res.changed.length !== objects.size : res.changed.length + res.deleted.length > 0;
  if (res.full) {
    const keep = new Set(res.changed.map((o) => o.id));
    for (const id of [...objects.keys()]) {
      if (!keep.has(id)) {
        await core.forget(id);
        changed = true;
      }
    }
  }
  for (const o of res.changed) {
    const prev = objects.get(o.id);
    if (prev?.etag === o.etag && prev.ics === o.ics) continue;
    changed = true;
    await core.store(o);
  }
  for (const id of res.deleted) {
    if (objects.has(id)) await core.forget(id);
  }
  m.syncToken = res.token;
  m.lastSyncAt = Date.now();
  m.unreachableSince = 0;
  await core.saveMeta();
  if (await removeAbandoned(core)) changed = true;
  if (await markConflicts(core)) changed = true;
  if (changed) {
    core.notify();
    core.requestPublish();
  }
  return changed;
}

/**
 * Creates the ledger gave up on (the calendar missed the deadline, the
 * caller got 503) but the server finished later: the booking was refused, so
 * its event must not stand. Recorded as `abandoned:<uid>` before the create.
 */
export async function removeAbandoned(core: LedgerCore): Promise<boolean> {
  const abandoned = await core.storage.list<number>({ prefix: "abandoned:" });
  if (!abandoned.size) return false;
  let removed = false;
  const byUid = new Map<string, CalendarObject>();
  for (const o of core.state.objects.values()) {
    const uid = /^UID:(.*)$/m.exec(o.ics)?.[1]?.trim();
    if (uid) byUid.set(uid, o);
  }
  for (const [key, at] of abandoned) {
    const uid = key.slice("abandoned:".length);
    const obj = byUid.get(uid);
    try {
      if (obj) {
        await core.calendar("remove abandoned create", (cal, signal) => cal.delete(obj.id, obj.etag, { signal }));
        await core.forget(obj.id);
        core.log().info("removed a booking the calendar finished after labhog gave up", { uid });
        removed = true;
        await core.storage.delete(key);
      } else if (Date.now() - at > 86_400_000) await core.storage.delete(key);
    } catch (e) {
      core.log().warn("could not remove an abandoned create", { uid, error: e });
    }
  }
  return removed;
}

/** Calendar apps can't be stopped from overlapping: the loser is marked (never deleted). */
export async function markConflicts(core: LedgerCore): Promise<boolean> {
  const now = Date.now();
  const losers = core.view.losers(now);
  let marked = false;
  const lab = core.lab();
  for (const r of core.view.raw(now - 3_600_000, now + CONFLICT_HORIZON_MS, now)) {
    if (r.state === "ended") continue;
    const winners = losers.get(r.id);
    const obj = core.state.objects.get(r.objectId);
    if (!obj) continue;
    // Marked and still losing, or unmarked and not losing: nothing to write.
    if (!winners === !core.view.marked(obj, r.recurrenceId)) continue;
    try {
      const updated = await core.calendar("mark conflict", (cal, signal) => cal.update(obj.id, patchIcs(obj.ics, { conflictWith: winners ?? null }, lab, r.recurrenceId), obj.etag, { signal }));
      await core.store(updated);
      marked = true;
      core.log().info(winners ? "marked conflict" : "cleared conflict mark", { reservation: r.id, winners });
    } catch (e) {
      // Someone edited it meanwhile: the next sync sees the new version and decides again.
      if (!(e instanceof PreconditionFailedError)) core.log().warn("could not mark conflict", { reservation: r.id, error: e });
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
 * seen later than the booking's grant, so it loses (precedence.ts).
 */
export async function syncIfStale(core: LedgerCore): Promise<void> {
  if (Date.now() - core.state.meta.lastSyncAt > core.syncIntervalMs()) await sync(core);
}
