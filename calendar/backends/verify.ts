/**
 * The full check of CalendarBackend.verify, in the parts every backend
 * shares: comparing an etag listing with the caller's cache, and (for
 * backends whose full listing is cheap or whose tokens can't silently skip
 * changes: memory, google) a verify built on a full sync.
 */
import type { CalendarBackend, CalendarObject, SyncOptions, VerifyResult } from "./backend.ts";

/** What differs between the server's listing and the cache: ids to fetch, ids gone. */
export function diffEtags(known: ReadonlyMap<string, string>, listing: ReadonlyMap<string, string>): { fetch: string[]; gone: string[] } {
  const fetch: string[] = [];
  for (const [id, etag] of listing) if (known.get(id) !== etag) fetch.push(id);
  const gone: string[] = [];
  for (const id of known.keys()) if (!listing.has(id)) gone.push(id);
  return { fetch, gone };
}

/** verify() by a full sync: correct for any backend, cheap only where a full listing is. */
export async function verifyByFullSync(backend: Pick<CalendarBackend, "sync">, known: ReadonlyMap<string, string>, options: SyncOptions = {}): Promise<VerifyResult> {
  const all = await backend.sync(null, options);
  const listing = new Map(all.changed.map((o) => [o.id, o.etag]));
  const { fetch, gone } = diffEtags(known, listing);
  const want = new Set(fetch);
  const changed: CalendarObject[] = all.changed.filter((o) => want.has(o.id));
  return { changed, deleted: gone, token: all.token, full: false, checked: listing.size };
}
