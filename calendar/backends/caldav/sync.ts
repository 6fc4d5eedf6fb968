/**
 * Incremental sync of one calendar collection.
 *
 * Tokens we hand out (opaque to callers):
 *   caldav1:s:<server sync-token>   RFC 6578 sync-collection
 *   caldav1:c:<state key>           ctag/etag fallback; the etags of that
 *                                   listing live in the KeyValueStore
 * Anything else, or a token the server refuses, gets a full listing.
 *
 * verifyCalendar is the full check that trusts no token (CalendarBackend.verify):
 * an etag listing (a sync-collection from the empty token, or a Depth-1
 * PROPFIND of getetag), no calendar data, then a multiget of what differs.
 */
import { unchangedFor, type CalendarObject, type SyncOptions, type SyncProgress, type SyncResult, type VerifyResult } from "../backend.ts";
import type { KeyValueStore } from "../kv-store.ts";
import type { Budget } from "../deadline.ts";
import { diffEtags } from "../verify.ts";
import { LabhogError } from "../../errors.ts";
import { DavTransport } from "./transport.ts";
import { canonicalPath, escapeXml, hrefOf, multistatusSyncToken, prop, text } from "./xml.ts";

export type SyncMethod = "sync-collection" | "ctag";

export interface CollectionRef {
  t: DavTransport;
  /** Absolute URL, ending in "/". */
  url: string;
  /** canonicalPath(url). */
  path: string;
  state: KeyValueStore;
  multigetBatch: number;
  multigetConcurrency: number;
}

const PREFIX_S = "caldav1:s:";
const PREFIX_C = "caldav1:c:";
/** ctag-mode listings kept, so a token handed out recently still syncs incrementally. */
const CTAG_STATES_KEPT = 8;
/** A server that keeps answering 507 forever is broken; stop somewhere. */
const MAX_PAGES = 10_000;

const NS = `xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"`;

/** Turns calendar-data as it comes out of XML back into iCalendar lines. */
export function normalizeIcs(s: string): string {
  const t = s.replace(/\r\n|\r|\n/g, "\r\n").trim();
  return t + "\r\n";
}

/** What the sync steps get from the backend call: its budget and the progress hook. */
export interface SyncCall {
  budget: Budget;
  onProgress?: (p: SyncProgress) => void;
  knownEtag?: SyncOptions["knownEtag"];
}

function etagOf(r: Parameters<typeof prop>[0]): string | undefined {
  return text(prop(r, "getetag"));
}

/** calendar-multiget of `hrefs` in batches: the objects found, and the hrefs the server no longer has. */
export async function multiget(c: CollectionRef, hrefs: string[], options: SyncCall): Promise<{ objects: CalendarObject[]; missing: string[] }> {
  const objects: CalendarObject[] = [];
  const missing: string[] = [];
  const batches: string[][] = [];
  for (let i = 0; i < hrefs.length; i += c.multigetBatch) batches.push(hrefs.slice(i, i + c.multigetBatch));
  let next = 0;
  let fetched = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      options.budget.signal.throwIfAborted();
      const body = `<?xml version="1.0" encoding="utf-8"?><c:calendar-multiget ${NS}><d:prop><d:getetag/><c:calendar-data/></d:prop>${batch.map((h) => `<d:href>${escapeXml(h)}</d:href>`).join("")}</c:calendar-multiget>`;
      const reply = await c.t.dav("REPORT", c.url, body, "1", options.budget);
      if (reply.status >= 300) throw DavTransport.fail(reply, `REPORT calendar-multiget ${c.path}`);
      const seen = new Set<string>();
      for (const r of reply.responses) {
        const href = hrefOf(r);
        if (!href) continue;
        const id = canonicalPath(href, c.url);
        seen.add(id);
        const data = text(prop(r, "calendarData"));
        const etag = etagOf(r);
        if (r.status === 404 || !data || !etag) {
          missing.push(id);
          continue;
        }
        objects.push({ id, etag, ics: normalizeIcs(data) });
      }
      // A server may leave out what it no longer has instead of answering 404.
      for (const h of batch) if (!seen.has(h)) missing.push(h);
      fetched += batch.length;
      options.onProgress?.({ fetched, total: hrefs.length });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(c.multigetConcurrency, batches.length)) }, worker));
  if (hrefs.length === 0) options.onProgress?.({ fetched: 0, total: 0 });
  return { objects, missing };
}

function isRefusal(reply: { status: number; text: string }): boolean {
  // RFC 6578 §3.2: 403 or 409 with DAV:valid-sync-token. Xandikos 0.2 answers an
  // unknown token with a bare 500; we treat that as a refusal too, and if the
  // full listing fails as well its error surfaces.
  if ((reply.status === 403 || reply.status === 409) && /valid-sync-token/.test(reply.text)) return true;
  return reply.status === 500 || reply.status === 400 || reply.status === 412;
}

/** Raised when the server does not do sync-collection at all: the caller switches to ctag. */
export class SyncCollectionUnsupported extends Error {}

/** The hrefs and etags changed since `serverToken` (all members from null), following 507 pages, and the new server token. */
async function collectChanges(c: CollectionRef, serverToken: string | null, o: SyncCall): Promise<{ changed: Map<string, string>; deleted: Set<string>; token: string; full: boolean }> {
  let from = serverToken ?? "";
  let full = serverToken === null;
  let changed = new Map<string, string>();
  let deleted = new Set<string>();
  let token: string | undefined;
  for (let page = 0; ; page++) {
    if (page > MAX_PAGES) throw new LabhogError("upstream-error", 502, `sync of ${c.path} still truncated after ${MAX_PAGES} pages`);
    const body = `<?xml version="1.0" encoding="utf-8"?><d:sync-collection ${NS}><d:sync-token>${escapeXml(from)}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`;
    const reply = await c.t.dav("REPORT", c.url, body, "1", o.budget);
    if (reply.status >= 300) {
      if (from !== "" && isRefusal(reply)) {
        c.t.log({ level: "info", msg: "sync token refused; full resync", calendar: c.path, status: reply.status });
        from = "";
        full = true;
        changed = new Map();
        deleted = new Set();
        continue;
      }
      if (from === "" && [403, 405, 501].includes(reply.status)) throw new SyncCollectionUnsupported(`HTTP ${reply.status}`);
      throw DavTransport.fail(reply, `REPORT sync-collection ${c.path}`);
    }
    let truncated = false;
    for (const r of reply.responses) {
      const href = hrefOf(r);
      if (!href) continue;
      const id = canonicalPath(href, c.url);
      if (id === c.path || id.endsWith("/")) {
        // RFC 6578 §3.6: a 507 on the collection itself means "more to come".
        if (r.status === 507) truncated = true;
        continue;
      }
      if (r.status === 404) {
        changed.delete(id);
        deleted.add(id);
      } else {
        const etag = etagOf(r);
        if (etag === undefined) continue;
        changed.set(id, etag);
        deleted.delete(id);
      }
    }
    token = multistatusSyncToken(reply.doc);
    if (!token) throw new LabhogError("upstream-error", 502, `sync-collection answer for ${c.path} carries no sync-token`);
    if (!truncated) break;
    c.t.log({ level: "debug", msg: "sync truncated (507); continuing", calendar: c.path, page, changesSoFar: changed.size });
    from = token;
  }
  return { changed, deleted, token, full };
}

async function syncCollection(c: CollectionRef, serverToken: string | null, o: SyncCall): Promise<SyncResult> {
  const { changed, deleted, token, full } = await collectChanges(c, serverToken, o);
  // The change log lists the caller's own writes too: those it holds at this etag need no calendar-data.
  const wanted = full ? [...changed.keys()] : [...changed].filter(([id, etag]) => !unchangedFor(o, id, etag)).map(([id]) => id);
  const { objects, missing } = await multiget(c, wanted, o);
  return {
    changed: objects,
    deleted: full ? [] : [...deleted, ...missing],
    token: PREFIX_S + token,
    full,
  };
}

interface CtagState {
  ctag: string | null;
  etags: Record<string, string>;
}

async function getCtag(c: CollectionRef, o: SyncCall): Promise<string | null> {
  const top = await c.t.dav("PROPFIND", c.url, `<?xml version="1.0" encoding="utf-8"?><d:propfind ${NS}><d:prop><cs:getctag/></d:prop></d:propfind>`, "0", o.budget);
  if (top.status >= 300) throw DavTransport.fail(top, `PROPFIND ${c.path}`);
  return top.responses[0] ? text(prop(top.responses[0], "getctag")) ?? null : null;
}

/** Every member's etag, by a Depth-1 PROPFIND (no calendar data). */
async function etagListing(c: CollectionRef, o: SyncCall): Promise<Map<string, string>> {
  const listing = await c.t.dav("PROPFIND", c.url, `<?xml version="1.0" encoding="utf-8"?><d:propfind ${NS}><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>`, "1", o.budget);
  if (listing.status >= 300) throw DavTransport.fail(listing, `PROPFIND ${c.path}`);
  const etags = new Map<string, string>();
  for (const r of listing.responses) {
    const href = hrefOf(r);
    if (!href) continue;
    const id = canonicalPath(href, c.url);
    const etag = etagOf(r);
    if (id === c.path || id.endsWith("/") || etag === undefined || r.status === 404) continue;
    etags.set(id, etag);
  }
  return etags;
}

/** Keeps a ctag-mode listing under a fresh key (the token's tail) and trims old ones. */
async function saveCtagState(c: CollectionRef, ctag: string | null, etags: Map<string, string>): Promise<string> {
  const statePrefix = `caldav-ctag/${c.path}/`;
  const newKey = `${Date.now().toString(36).padStart(10, "0")}-${crypto.randomUUID().slice(0, 8)}`;
  await c.state.put<CtagState>(statePrefix + newKey, { ctag, etags: Object.fromEntries(etags) });
  const kept = [...(await c.state.list({ prefix: statePrefix })).keys()].sort();
  for (const old of kept.slice(0, Math.max(0, kept.length - CTAG_STATES_KEPT))) await c.state.delete(old);
  return newKey;
}

async function ctagSync(c: CollectionRef, key: string | null, o: SyncCall): Promise<SyncResult> {
  const statePrefix = `caldav-ctag/${c.path}/`;
  const previous = key ? await c.state.get<CtagState>(statePrefix + key) : undefined;
  const ctag = await getCtag(c, o);
  if (previous && key && ctag !== null && previous.ctag === ctag) {
    o.onProgress?.({ fetched: 0, total: 0 });
    return { changed: [], deleted: [], token: PREFIX_C + key, full: false };
  }
  const etags = await etagListing(c, o);
  const full = !previous;
  const before = new Map(previous ? Object.entries(previous.etags) : []);
  const want = full ? [...etags.keys()] : diffEtags(before, etags).fetch.filter((id) => !unchangedFor(o, id, etags.get(id)!));
  const gone = full ? [] : diffEtags(before, etags).gone;
  const { objects, missing } = await multiget(c, want, o);
  // Keep what the objects really are now (the multiget may be newer than the listing).
  for (const obj of objects) etags.set(obj.id, obj.etag);
  for (const m of missing) etags.delete(m);
  const newKey = await saveCtagState(c, ctag, etags);
  return { changed: objects, deleted: full ? [] : [...gone, ...missing], token: PREFIX_C + newKey, full };
}

export async function syncCalendar(c: CollectionRef, method: SyncMethod, token: string | null, o: SyncCall): Promise<{ result: SyncResult; method: SyncMethod }> {
  o.budget.signal.throwIfAborted();
  if (method === "sync-collection") {
    const serverToken = token?.startsWith(PREFIX_S) && token.length > PREFIX_S.length ? token.slice(PREFIX_S.length) : null;
    try {
      return { result: await syncCollection(c, serverToken, o), method };
    } catch (e) {
      if (!(e instanceof SyncCollectionUnsupported)) throw e;
      c.t.log({ level: "warn", msg: "server refuses sync-collection; using ctag/etag sync", calendar: c.path, reason: e.message });
    }
  }
  const key = token?.startsWith(PREFIX_C) ? token.slice(PREFIX_C.length) : null;
  return { result: await ctagSync(c, key && /^[0-9a-z]{10}-[0-9a-f]{8}$/.test(key) ? key : null, o), method: "ctag" };
}

/**
 * The full check (CalendarBackend.verify). The token it returns was taken
 * with the listing (sync-collection) or is the listing (ctag), so nothing
 * that changes after the check is lost by continuing from it.
 */
export async function verifyCalendar(c: CollectionRef, method: SyncMethod, known: ReadonlyMap<string, string>, o: SyncCall): Promise<{ result: VerifyResult; method: SyncMethod }> {
  o.budget.signal.throwIfAborted();
  if (method === "sync-collection") {
    try {
      // From the empty token the server lists its members as they are now, not its
      // change log: sabre/dav's getChangesForCalendar (which Nextcloud's CalDavBackend
      // follows) reads calendarobjects without a token, and with one only the
      // calendarchanges rows still there (WHERE synctoken >= ?): pruned rows vanish silently.
      const all = await collectChanges(c, null, o);
      const { fetch, gone } = diffEtags(known, all.changed);
      const { objects, missing } = await multiget(c, fetch, o);
      return { result: { changed: objects, deleted: [...gone, ...missing], token: PREFIX_S + all.token, full: false, checked: all.changed.size }, method };
    } catch (e) {
      if (!(e instanceof SyncCollectionUnsupported)) throw e;
      c.t.log({ level: "warn", msg: "server refuses sync-collection; using ctag/etag sync", calendar: c.path, reason: e.message });
    }
  }
  const ctag = await getCtag(c, o);
  const etags = await etagListing(c, o);
  const checked = etags.size;
  const { fetch, gone } = diffEtags(known, etags);
  const { objects, missing } = await multiget(c, fetch, o);
  for (const obj of objects) etags.set(obj.id, obj.etag);
  for (const m of missing) etags.delete(m);
  const key = await saveCtagState(c, ctag, etags);
  return { result: { changed: objects, deleted: [...gone, ...missing], token: PREFIX_C + key, full: false, checked }, method: "ctag" };
}
