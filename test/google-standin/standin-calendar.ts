/**
 * One calendar of the Google Calendar API v3 STAND-IN (a test double, not
 * Google). It keeps events the way the API shows them and answers
 * events.list/get/insert/update/patch/delete with the documented semantics
 * labhog relies on:
 * - deleted events stay as `status: "cancelled"` tombstones (their id and
 *   iCalUID stay taken: inserting them again is 409 duplicate; deleting them
 *   again is 410 deleted); a series' exceptions go with it;
 * - instance ids `<seriesId>_<YYYYMMDDTHHMMSSZ | YYYYMMDD>`: GET shows the
 *   instance, update/patch turns it into an exception (recurringEventId +
 *   originalStartTime), delete into a cancelled instance;
 * - list: syncToken (changes since, deletions included; 410 fullSyncRequired
 *   for unknown or invalidated tokens), pageToken paging with maxResults,
 *   nextSyncToken only on the last page, showDeleted, singleEvents=false,
 *   timeMin/timeMax (end > timeMin, start < timeMax; series whole), iCalUID;
 * - ETags change on every write; If-Match mismatches are 412.
 * - Event.attendees: "Service accounts need to use domain-wide delegation of
 *   authority to populate the attendee list" (v3.ts): a service account
 *   acting without a `sub` that sends attendees gets 403
 *   forbiddenForServiceAccounts. `organizer` is "Read-only, except when
 *   importing an event": the calendar is the organizer of what the API
 *   inserts, the caller (the impersonated user, else the service account) its
 *   `creator`.
 * - extendedProperties (Google's "Extended properties" guide): keys longer
 *   than 44 characters are dropped and values longer than 1024 characters
 *   truncated, silently; at most 300 properties and 32 kB per event (400).
 * - PATCH follows Google's patch semantics ("Performance tips", patch): the
 *   fields sent replace the stored ones, objects are merged member by member,
 *   arrays replaced whole, and a null deletes a field.
 * - Event.id on insert: base32hex (a-v, 0-9), 5–1024 characters (v3.ts);
 *   an id that exists, deleted or not, is 409 duplicate. A deleted event can
 *   be brought back by an update, unless the test froze it (403, as Google
 *   answers for tombstones it no longer lets you revive).
 * Not implemented (400 when asked): singleEvents=true, orderBy, q.
 */
import type { calendar_v3 } from "@googleapis/calendar";
import { seriesOverlaps } from "./standin-recurrence.ts";
import type { Caller } from "./standin-auth.ts";

export type GEvent = calendar_v3.Schema$Event;

export class StandinHttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

interface Stored {
  ev: GEvent;
  seq: number;
}

interface PageState {
  rest: GEvent[];
  nextSyncToken: string;
}

const WRITABLE = [
  "summary",
  "description",
  "location",
  "start",
  "end",
  "recurrence",
  "status",
  "transparency",
  "visibility",
  "attendees",
  "extendedProperties",
  "sequence",
  "colorId",
  "reminders",
  "guestsCanModify",
] as const;

const B32HEX = "0123456789abcdefghijklmnopqrstuv";
let etagCounter = 1_700_000_000_000_000;

function randomId(len = 26): string {
  const bytes = crypto.getRandomValues(new Uint8Array(len));
  return Array.from(bytes, (b) => B32HEX[b % 32]).join("");
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Google's patch semantics: objects merge member by member, arrays and scalars replace, null deletes. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = isPlainObject(v) ? mergePatch(out[k], v) : clone(v);
  }
  return out;
}

/** Extended properties as Google keeps them: long keys dropped, long values cut, silently. */
function keepExtendedProperties(ev: GEvent): void {
  const xp = ev.extendedProperties;
  if (!xp) return;
  let count = 0;
  let size = 0;
  for (const scope of ["private", "shared"] as const) {
    const m = xp[scope];
    if (!m) continue;
    const kept: Record<string, string> = {};
    for (const [k, v] of Object.entries(m)) {
      if (typeof v !== "string" || k.length > 44) continue;
      kept[k] = v.slice(0, 1024);
      count++;
      size += k.length + kept[k]!.length;
    }
    xp[scope] = kept;
  }
  if (count > 300 || size > 32 * 1024) throw new StandinHttpError(400, "invalid", "Too many extended properties or extended properties too large.");
}

const SERVICE_ACCOUNT_ATTENDEES = "Service accounts cannot invite attendees without Domain-Wide Delegation of Authority.";

function instantOf(t: calendar_v3.Schema$EventDateTime | undefined): number {
  if (!t) return NaN;
  if (t.date) return Date.parse(`${t.date}T00:00:00Z`); // the stand-in's calendars are in UTC
  return Date.parse(t.dateTime ?? "");
}

function utcStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

export class StandinCalendar {
  readonly id: string;
  readonly timeZone = "UTC";
  private readonly events = new Map<string, Stored>();
  private seq = 0;
  private readonly syncTokens = new Map<string, number>();
  private readonly pages = new Map<string, PageState>();

  constructor(id: string) {
    this.id = id;
  }

  /** Deleted events whose revival Google refuses (403). */
  private readonly frozen = new Set<string>();

  /** Test hook: the tombstone of this deleted event can no longer be brought back (updates are 403). */
  freezeTombstone(id: string): void {
    this.frozen.add(id);
  }

  /** Test hook: every sync token handed out so far becomes invalid (410 on use). */
  invalidateSyncTokens(): void {
    this.syncTokens.clear();
  }

  /** Test hook: an event as a Google Calendar user would make it (organizer etc. as given). */
  seed(ev: GEvent): GEvent {
    const id = ev.id ?? randomId();
    const now = new Date().toISOString();
    return this.store({
      kind: "calendar#event",
      status: "confirmed",
      created: now,
      iCalUID: `${id}@google.com`,
      sequence: 0,
      eventType: "default",
      ...clone(ev),
      id,
    });
  }

  private store(ev: GEvent): GEvent {
    const seq = ++this.seq;
    ev.etag = `"${++etagCounter}"`;
    ev.updated = new Date().toISOString();
    ev.htmlLink = `https://calendar.google.com/calendar/event?eid=${ev.id}`;
    this.events.set(ev.id!, { ev, seq });
    return clone(ev);
  }

  private checkIfMatch(current: GEvent, ifMatch: string | undefined): void {
    if (ifMatch !== undefined && ifMatch !== "*" && ifMatch !== current.etag) {
      throw new StandinHttpError(412, "conditionNotMet", "Precondition Failed");
    }
  }

  private validateTimes(ev: GEvent): void {
    if (!ev.start || (!ev.start.date && !ev.start.dateTime)) throw new StandinHttpError(400, "required", "Missing start time.");
    if (!ev.end || (!ev.end.date && !ev.end.dateTime)) throw new StandinHttpError(400, "required", "Missing end time.");
    const s = instantOf(ev.start);
    const e = instantOf(ev.end);
    if (Number.isNaN(s) || Number.isNaN(e)) throw new StandinHttpError(400, "invalid", "Invalid start or end time.");
    if (e < s) throw new StandinHttpError(400, "timeRangeEmpty", "The specified time range is empty.");
    if (ev.recurrence?.length && ev.start.dateTime && !ev.start.timeZone) {
      throw new StandinHttpError(400, "invalid", "Missing time zone definition for start time.");
    }
  }

  /** The series an instance id points at, and the original start it names. */
  private virtualInstance(id: string): GEvent | undefined {
    const m = /^(.+)_(\d{8})(?:T(\d{6})Z)?$/.exec(id);
    if (!m) return undefined;
    const master = this.events.get(m[1]!)?.ev;
    if (!master?.recurrence?.length || master.status === "cancelled") return undefined;
    const d = m[2]!;
    const dateStr = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`;
    let original: calendar_v3.Schema$EventDateTime;
    if (m[3]) {
      const t = m[3];
      original = { dateTime: `${dateStr}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}Z`, timeZone: master.start?.timeZone ?? "UTC" };
    } else {
      if (!master.start?.date) return undefined;
      original = { date: dateStr };
    }
    const duration = instantOf(master.end) - instantOf(master.start);
    const startMs = instantOf(original);
    const end: calendar_v3.Schema$EventDateTime = original.date
      ? { date: new Date(startMs + duration).toISOString().slice(0, 10) }
      : { dateTime: new Date(startMs + duration).toISOString().replace(/\.\d{3}Z$/, "Z"), timeZone: original.timeZone ?? null };
    const { recurrence: _r, id: _i, ...rest } = clone(master);
    return { ...rest, id, recurringEventId: master.id, originalStartTime: original, start: clone(original), end };
  }

  get(id: string): GEvent {
    const s = this.events.get(id);
    if (s) return clone(s.ev);
    const v = this.virtualInstance(id);
    if (v) return v;
    throw new StandinHttpError(404, "notFound", "Not Found");
  }

  insert(body: GEvent, caller?: Caller): GEvent {
    if (body.attendees?.length && caller && !caller.subject) throw new StandinHttpError(403, "forbiddenForServiceAccounts", SERVICE_ACCOUNT_ATTENDEES);
    if (body.id !== undefined && body.id !== null) {
      if (!/^[a-v0-9]{5,1024}$/.test(body.id)) throw new StandinHttpError(400, "invalid", "Invalid resource id value.");
      if (this.events.has(body.id)) throw new StandinHttpError(409, "duplicate", "The requested identifier already exists.");
    }
    if (body.iCalUID) {
      for (const { ev } of this.events.values()) {
        if (!ev.recurringEventId && ev.iCalUID === body.iCalUID) throw new StandinHttpError(409, "duplicate", "The requested identifier already exists.");
      }
    }
    const ev: GEvent = {};
    for (const k of WRITABLE) if (body[k] !== undefined) (ev as Record<string, unknown>)[k] = clone(body[k]);
    this.validateTimes(ev);
    keepExtendedProperties(ev);
    const id = body.id ?? randomId();
    const now = new Date().toISOString();
    return this.store({
      kind: "calendar#event",
      id,
      status: "confirmed",
      ...ev,
      iCalUID: body.iCalUID ?? `${id}@google.com`,
      created: now,
      // Google makes the calendar the organizer of events inserted through the
      // API (organizer is read-only except on import); the caller is the creator.
      organizer: { email: this.id, self: true },
      creator: caller ? { email: caller.subject ?? caller.account } : { email: this.id, self: true },
      sequence: ev.sequence ?? 0,
      eventType: "default",
    });
  }

  /** PUT (replace) or PATCH (merge); an instance id turns into an exception. */
  write(id: string, body: GEvent, ifMatch: string | undefined, mode: "update" | "patch", caller?: Caller): GEvent {
    const current = this.events.get(id)?.ev ?? this.virtualInstance(id);
    if (!current) throw new StandinHttpError(404, "notFound", "Not Found");
    this.checkIfMatch(current, ifMatch);
    if (body.attendees?.length && caller && !caller.subject) throw new StandinHttpError(403, "forbiddenForServiceAccounts", SERVICE_ACCOUNT_ATTENDEES);
    if (current.status === "cancelled" && this.frozen.has(id)) throw new StandinHttpError(403, "forbidden", "Forbidden");
    const next: GEvent = {
      kind: current.kind ?? "calendar#event",
      id,
      iCalUID: current.iCalUID ?? null,
      created: current.created ?? new Date().toISOString(),
      organizer: current.organizer ?? null,
      creator: current.creator ?? null,
      eventType: "default",
    };
    if (current.recurringEventId) {
      next.recurringEventId = current.recurringEventId;
      if (current.originalStartTime) next.originalStartTime = current.originalStartTime;
    }
    const source = (mode === "patch" ? mergePatch(current, body) : clone(body)) as GEvent;
    for (const k of WRITABLE) if (source[k] !== undefined) (next as Record<string, unknown>)[k] = source[k];
    keepExtendedProperties(next);
    next.status ??= "confirmed";
    if (current.recurringEventId) {
      delete next.recurrence; // instances carry no rule of their own
      if (!this.events.has(id) && current.iCalUID) next.iCalUID = current.iCalUID;
    }
    if (next.status !== "cancelled") this.validateTimes(next);
    return this.store(next);
  }

  delete(id: string, ifMatch: string | undefined): void {
    const stored = this.events.get(id)?.ev;
    const current = stored ?? this.virtualInstance(id);
    if (!current) throw new StandinHttpError(404, "notFound", "Not Found");
    if (stored && stored.status === "cancelled") throw new StandinHttpError(410, "deleted", "Resource has been deleted");
    this.checkIfMatch(current, ifMatch);
    this.store({ ...clone(current), status: "cancelled" });
    if (!current.recurringEventId) {
      for (const { ev } of [...this.events.values()]) {
        if (ev.recurringEventId === id && ev.status !== "cancelled") this.store({ ...clone(ev), status: "cancelled" });
      }
    }
  }

  /**
   * What a list shows of an event: Google trims cancelled events to their
   * identity. A cancelled instance may come with only id, recurringEventId
   * and originalStartTime (no etag, no iCalUID, no times): shown so here.
   */
  private shown(ev: GEvent, full: boolean): GEvent {
    if (ev.status !== "cancelled" || full) return clone(ev);
    const min: GEvent = ev.recurringEventId ? { kind: ev.kind ?? "calendar#event", id: ev.id ?? null, status: "cancelled" } : { kind: ev.kind ?? "calendar#event", etag: ev.etag ?? null, id: ev.id ?? null, status: "cancelled" };
    if (ev.recurringEventId) {
      min.recurringEventId = ev.recurringEventId;
      min.originalStartTime = clone(ev.originalStartTime);
    }
    return min;
  }

  private inWindow(ev: GEvent, min: number, max: number): boolean {
    const start = ev.status === "cancelled" && ev.originalStartTime ? instantOf(ev.originalStartTime) : instantOf(ev.start);
    const end = ev.end ? instantOf(ev.end) : start;
    if (Number.isNaN(start)) return false;
    if (ev.recurrence?.length) return seriesOverlaps(start, end - start, ev.recurrence, min, max);
    return start < max && (end > min || (end === start && start >= min));
  }

  list(q: URLSearchParams): Record<string, unknown> {
    for (const unsupported of ["orderBy", "q", "updatedMin"]) {
      if (q.has(unsupported)) throw new StandinHttpError(400, "invalid", `stand-in: ${unsupported} is not implemented`);
    }
    if (q.get("singleEvents") === "true") throw new StandinHttpError(400, "invalid", "stand-in: singleEvents=true is not implemented");
    const maxResults = Math.min(2500, Math.max(1, Number(q.get("maxResults") ?? 250) || 250));
    const pageToken = q.get("pageToken");
    let page: GEvent[];
    let state: PageState;
    if (pageToken) {
      const s = this.pages.get(pageToken);
      if (!s) throw new StandinHttpError(400, "invalid", "Invalid page token value.");
      this.pages.delete(pageToken);
      state = s;
    } else {
      state = this.query(q);
    }
    page = state.rest.slice(0, maxResults);
    const rest = state.rest.slice(maxResults);
    const body: Record<string, unknown> = {
      kind: "calendar#events",
      etag: `"p${this.seq}"`,
      summary: this.id,
      updated: new Date().toISOString(),
      timeZone: this.timeZone,
      accessRole: "owner",
      defaultReminders: [],
      items: page,
    };
    if (rest.length) {
      const next = randomId(32);
      this.pages.set(next, { rest, nextSyncToken: state.nextSyncToken });
      body.nextPageToken = next;
    } else {
      body.nextSyncToken = state.nextSyncToken;
    }
    return body;
  }

  private query(q: URLSearchParams): PageState {
    const syncToken = q.get("syncToken");
    // The token handed out describes the state as of this query.
    const nextSyncToken = `CP${randomId(24)}`;
    this.syncTokens.set(nextSyncToken, this.seq);
    const all = [...this.events.values()].sort((a, b) => a.seq - b.seq);
    if (syncToken !== null) {
      for (const p of ["timeMin", "timeMax", "iCalUID", "updatedMin", "privateExtendedProperty", "sharedExtendedProperty"]) {
        if (q.has(p)) throw new StandinHttpError(400, "invalid", `Sync token cannot be used together with ${p}.`);
      }
      if (q.get("showDeleted") === "false") throw new StandinHttpError(400, "invalid", "showDeleted cannot be false with a sync token.");
      const since = this.syncTokens.get(syncToken);
      if (since === undefined) {
        this.syncTokens.delete(nextSyncToken);
        throw new StandinHttpError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.");
      }
      return { rest: all.filter((s) => s.seq > since).map((s) => this.shown(s.ev, false)), nextSyncToken };
    }
    const showDeleted = q.get("showDeleted") === "true";
    const iCalUID = q.get("iCalUID");
    const min = q.has("timeMin") ? Date.parse(q.get("timeMin")!) : -Infinity;
    const max = q.has("timeMax") ? Date.parse(q.get("timeMax")!) : Infinity;
    if (Number.isNaN(min) || Number.isNaN(max)) throw new StandinHttpError(400, "invalid", "Bad Request");
    const items = all
      .map((s) => s.ev)
      .filter((ev) => {
        if (iCalUID !== null && ev.iCalUID !== iCalUID) return false;
        if (ev.status === "cancelled" && !showDeleted) {
          // Cancelled instances still come with singleEvents=false, unless their series is gone too.
          if (!ev.recurringEventId) return false;
          if (this.events.get(ev.recurringEventId)?.ev.status === "cancelled") return false;
        }
        return this.inWindow(ev, min, max);
      })
      .map((ev) => this.shown(ev, false));
    return { rest: items, nextSyncToken };
  }
}

export { utcStamp };
