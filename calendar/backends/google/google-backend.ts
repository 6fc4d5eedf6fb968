import { calendar_v3 } from "@googleapis/calendar";
import { unchangedFor, type CalendarBackend, type CalendarObject, type SyncOptions, type SyncResult, type VerifyResult } from "../backend.ts";
import { verifyByFullSync } from "../verify.ts";
import type { TimeWindow } from "../../model.ts";
import { ConflictError, ForbiddenError, LabhogError, NotFoundError, PreconditionFailedError, SyncTokenInvalidError, ValidationError } from "../../errors.ts";
import { groupToIcs } from "./event-to-ics.ts";
import { eventIdFor } from "./event-id.ts";
import { toLabhogError, type GoogleErrorContext } from "./google-errors.ts";
import { icsToEvents, type TranslatedCalendar, type TranslatedOverride } from "./ics-to-event.ts";
import { KNOWN_LABHOG_KEYS } from "./labhog-properties.ts";
import { defaultRetryPolicy, withRetry, type RetryPolicy } from "./retry.ts";
import type { ServiceAccountTokenSource } from "./service-account.ts";

type GEvent = calendar_v3.Schema$Event;
type ListParams = calendar_v3.Params$Resource$Events$List;

export type GoogleLog = (level: "debug" | "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

export interface GoogleBackendDeps {
  calendarId: string;
  tokens: ServiceAccountTokenSource;
  /** API root, e.g. https://www.googleapis.com/ (the stand-in's address in tests). */
  apiRoot: string;
  /** IANA zone for floating times in objects we write. */
  timeZone: string;
  /** maxResults per page (Google allows up to 2500). */
  pageSize: number;
  retry: RetryPolicy;
  fetch: typeof fetch;
  /**
   * The service account acts as a user (domain-wide delegation, JWT `sub`).
   * Only then may events carry attendees: "Service accounts need to use
   * domain-wide delegation of authority to populate the attendee list"
   * (v3.ts, Event.attendees); without it Google answers 403
   * forbiddenForServiceAccounts. Without it the holder travels in
   * X-LABHOG-HOLDER only.
   */
  delegated: boolean;
  /** The first full sync reaches this far back (ms); undefined = the whole history. */
  fullSyncLookbackMs: number | undefined;
  now: () => number;
  log?: GoogleLog;
}

/** Sync tokens labhog hands out carry this prefix: a token from before series were grouped (or junk) means a full sync. */
const TOKEN_PREFIX = "g2:";
/** Composite etags of a series with exceptions. */
const GROUP_ETAG_PREFIX = '"lhg-';

/** One labhog object: a Google event, or a series with its exceptions. */
interface Group {
  master: GEvent;
  exceptions: GEvent[];
}

/**
 * CalendarBackend over the Google Calendar API v3, through @googleapis/calendar.
 *
 * The library's request builder (URL templates, parameters, JSON bodies) and
 * types are used as they are; its transport is gaxios with our own
 * `fetchImplementation`: the platform's fetch plus a bearer from our
 * WebCrypto service-account token source. That keeps google-auth-library's
 * Node-only code paths out of every request, so the same code runs in workerd
 * (with nodejs_compat, which the library's module graph needs to load) and in
 * Node. gaxios' own retry is off: ours retries transient failures only and
 * honours Retry-After.
 */
export class GoogleCalendarBackend implements CalendarBackend {
  readonly kind = "google" as const;
  private readonly api: calendar_v3.Calendar;
  private readonly d: GoogleBackendDeps;

  constructor(deps: GoogleBackendDeps) {
    this.d = deps;
    this.api = new calendar_v3.Calendar({
      rootUrl: deps.apiRoot,
      retry: false,
      fetchImplementation: this.authorizedFetch,
    });
  }

  /** Adds the bearer; a 401 on a cached token fetches a fresh token once (it may have been revoked early). */
  private readonly authorizedFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    const send = async (token: string) => {
      const headers = new Headers(init?.headers);
      headers.set("authorization", `Bearer ${token}`);
      return this.d.fetch(url, {
        method: init?.method ?? "GET",
        headers,
        ...(init?.body != null ? { body: init.body } : {}),
        ...(init?.signal ? { signal: init.signal } : {}),
      });
    };
    const token = await this.d.tokens.token();
    const res = await send(token);
    if (res.status !== 401) return res;
    this.d.tokens.invalidate(token);
    return send(await this.d.tokens.token());
  };

  private async call<T>(ctx: GoogleErrorContext, fn: (attempt: number) => Promise<{ data: T }>, signal?: AbortSignal): Promise<T> {
    let attempt = 0;
    return withRetry(
      this.d.retry,
      async () => {
        try {
          return (await fn(++attempt)).data;
        } catch (e) {
          throw toLabhogError(e, ctx);
        }
      },
      {
        ...(signal ? { signal } : {}),
        onRetry: ({ attempt: n, delayMs, error }) =>
          this.d.log?.("warn", "google request failed, retrying", { op: ctx.op, id: ctx.id, attempt: n, delayMs: Math.round(delayMs), error: error.message }),
      },
    );
  }

  // ── series + exceptions as one object ──────────────────────────────────

  /** The object of a series (or single event): its exceptions ride in the same VCALENDAR. */
  private toObject(g: Group): CalendarObject {
    const { master, exceptions } = g;
    if (!master.id || !master.etag) throw new LabhogError("google-error", 502, "google returned an event without id or etag");
    return { id: master.id, etag: groupEtag(g), ics: groupToIcs(master, exceptions) };
  }

  /** A series master and its exceptions (moved and cancelled instances), or undefined when the series is gone. */
  private async fetchGroup(seriesId: string, signal?: AbortSignal): Promise<Group | undefined> {
    let master: GEvent;
    try {
      master = await this.call({ op: "get", id: seriesId }, () => this.api.events.get({ calendarId: this.d.calendarId, eventId: seriesId }), signal);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
    if (master.status === "cancelled") return undefined;
    if (master.recurringEventId) return this.fetchGroup(master.recurringEventId, signal);
    if (!master.recurrence?.length || !master.iCalUID) return { master, exceptions: [] };
    // The exceptions share the series' iCalUID; with singleEvents=false their cancelled ones come too.
    const { items } = await this.listPages({ iCalUID: master.iCalUID, singleEvents: false, showDeleted: false }, { op: "exceptions", id: seriesId }, signal ? { signal } : {});
    return { master, exceptions: items.filter((ev) => ev.recurringEventId === seriesId) };
  }

  /**
   * Listed events as objects: exceptions go into their series' object. An
   * exception whose series did not come with the listing (a window that
   * holds a moved occurrence but no regular one) fetches its series whole.
   */
  private async groupsOf(items: GEvent[], signal?: AbortSignal): Promise<CalendarObject[]> {
    const masters = new Map<string, GEvent>();
    const exceptions = new Map<string, GEvent[]>();
    for (const ev of items) {
      if (!ev.id) continue;
      if (ev.recurringEventId) exceptions.set(ev.recurringEventId, [...(exceptions.get(ev.recurringEventId) ?? []), ev]);
      else if (ev.status !== "cancelled") masters.set(ev.id, ev);
    }
    const out: CalendarObject[] = [];
    for (const [id, master] of masters) out.push(this.toObject({ master, exceptions: exceptions.get(id) ?? [] }));
    for (const seriesId of exceptions.keys()) {
      if (masters.has(seriesId)) continue;
      const g = await this.fetchGroup(seriesId, signal);
      if (g && !out.some((o) => o.id === g.master.id)) out.push(this.toObject(g));
    }
    return out;
  }

  /** All pages of one events.list query. */
  private async listPages(
    params: ListParams,
    ctx: GoogleErrorContext,
    options: SyncOptions = {},
  ): Promise<{ items: GEvent[]; nextSyncToken: string | undefined }> {
    const items: GEvent[] = [];
    let pageToken: string | undefined;
    for (;;) {
      const page = await this.call(
        ctx,
        () =>
          this.api.events.list(
            { ...params, calendarId: this.d.calendarId, maxResults: this.d.pageSize, ...(pageToken ? { pageToken } : {}) },
            options.signal ? { signal: options.signal } : {},
          ),
        options.signal,
      );
      items.push(...(page.items ?? []));
      options.onProgress?.({ fetched: items.length });
      if (!page.nextPageToken) return { items, nextSyncToken: page.nextSyncToken ?? undefined };
      pageToken = page.nextPageToken;
    }
  }

  /** Google answers a stale sync token with 410 instead of skipping changes, so the full check is simply a full listing. */
  verify(known: ReadonlyMap<string, string>, options: SyncOptions = {}): Promise<VerifyResult> {
    return verifyByFullSync(this, known, options);
  }

  async list(window: TimeWindow): Promise<CalendarObject[]> {
    const { items } = await this.listPages(
      { timeMin: window.start.toISOString(), timeMax: window.end.toISOString(), singleEvents: false, showDeleted: false },
      { op: "list" },
    );
    // A window listing brings a series' exceptions only when they fall in the window themselves: an
    // occurrence moved out of it would be missing, and its original time would look taken. So every
    // series in the window comes with all its exceptions.
    const out: CalendarObject[] = [];
    for (const o of await this.groupsOf(items)) {
      const master = items.find((ev) => ev.id === o.id);
      if (!master?.recurrence?.length) {
        out.push(o);
        continue;
      }
      const g = await this.fetchGroup(o.id);
      if (g) out.push(this.toObject(g));
    }
    return out;
  }

  async sync(token: string | null, options: SyncOptions = {}): Promise<SyncResult> {
    const googleToken = token?.startsWith(TOKEN_PREFIX) ? token.slice(TOKEN_PREFIX.length) : undefined;
    if (token && !googleToken) this.d.log?.("info", "sync token is not one of ours (or from before series were grouped): full sync", { calendarId: this.d.calendarId });
    if (googleToken) {
      try {
        const { items, nextSyncToken } = await this.listPages({ syncToken: googleToken }, { op: "sync", withSyncToken: true }, options);
        const changed = new Map<string, CalendarObject>();
        const deleted = new Set<string>();
        const dirtySeries = new Set<string>();
        for (const ev of items) {
          if (!ev.id) continue;
          // Trimmed cancelled items (id, recurringEventId, originalStartTime; no etag) only mark their series.
          if (ev.recurringEventId) dirtySeries.add(ev.recurringEventId);
          else if (ev.status === "cancelled") deleted.add(ev.id);
          else if (ev.recurrence?.length) dirtySeries.add(ev.id);
          else changed.set(ev.id, this.toObject({ master: ev, exceptions: [] }));
        }
        for (const seriesId of dirtySeries) {
          if (deleted.has(seriesId)) continue;
          const g = await this.fetchGroup(seriesId, options.signal);
          if (g) changed.set(g.master.id!, this.toObject(g));
          else deleted.add(seriesId); // the series went (its exceptions with it)
        }
        for (const id of deleted) changed.delete(id);
        return { changed: [...changed.values()].filter((o) => !unchangedFor(options, o.id, o.etag)), deleted: [...deleted], token: this.requireToken(nextSyncToken), full: false };
      } catch (e) {
        if (!(e instanceof SyncTokenInvalidError)) throw e;
        const level = e.status === 410 || /\b410\b/.test(e.message) ? "info" : "warn";
        this.d.log?.(level, "google refused the sync token, doing a full sync", { calendarId: this.d.calendarId, reason: e.message });
      }
    }
    // The first full sync is bounded to what the ledger keeps. events.list
    // forbids timeMin together with syncToken ("There are several query
    // parameters that cannot be specified together with nextSyncToken …
    // timeMin, timeMax …", v3.ts), but only on the incremental requests:
    // Google's sync guide bounds its initial full sync with timeMin ("Sync
    // tokens aren't compatible with most filters, but you may want to limit
    // your full sync to only a certain date range") and still gets a
    // nextSyncToken. Later incremental syncs report changes to any event,
    // old ones too; the ledger keeps what falls in its window.
    const lookback = this.d.fullSyncLookbackMs;
    const { items, nextSyncToken } = await this.listPages(
      { singleEvents: false, showDeleted: false, ...(lookback !== undefined ? { timeMin: new Date(this.d.now() - lookback).toISOString() } : {}) },
      { op: "sync" },
      options,
    );
    const changed = await this.groupsOf(items, options.signal);
    return { changed, deleted: [], token: this.requireToken(nextSyncToken), full: true };
  }

  private requireToken(t: string | undefined): string {
    if (!t) throw new LabhogError("google-error", 502, "google's last events page carried no nextSyncToken");
    return TOKEN_PREFIX + t;
  }

  async get(id: string): Promise<CalendarObject> {
    const g = await this.fetchGroup(id);
    // Google keeps deleted events readable (status cancelled); for us they are gone.
    if (!g) throw new NotFoundError(`google event ${id} was deleted or never existed`);
    return this.toObject(g);
  }

  // ── writing ─────────────────────────────────────────────────────────────

  /**
   * What labhog sends for one VEVENT. `organizer` is "Read-only, except when
   * importing an event" (v3.ts): never sent. Attendees only under
   * domain-wide delegation (see GoogleBackendDeps.delegated).
   */
  private outgoing(ev: GEvent): GEvent {
    const { organizer: _o, attendees, ...rest } = ev;
    return this.d.delegated && attendees?.length ? { ...rest, attendees } : rest;
  }

  /**
   * events.patch body for an event that may carry other people's fields
   * (reminders, colours, attendees, conference data, other apps' extended
   * properties): patch semantics keep what we don't send, so the fields
   * labhog maps are sent, with null for the ones the object no longer has
   * (a null deletes the field), and labhog's own keys cleared the same way.
   */
  private patchBody(ev: GEvent, clearAbsentText = true): GEvent {
    const body: Record<string, unknown> = { ...this.outgoing(ev) };
    // An occurrence's own VEVENT may leave out what it shares with the series: then Google's copy stays.
    if (clearAbsentText) for (const f of ["summary", "description", "location"] as const) if (body[f] === undefined) body[f] = null;
    const mine: Record<string, string | null> = {};
    for (const k of KNOWN_LABHOG_KEYS) mine[k] = null;
    Object.assign(mine, ev.extendedProperties?.private ?? {});
    body.extendedProperties = { private: mine };
    delete body.iCalUID; // immutable once created
    return body as GEvent;
  }

  private translate(ics: string, uid?: string): TranslatedCalendar {
    const t = icsToEvents(ics, { defaultTimeZone: this.d.timeZone });
    if (uid !== undefined && t.uid !== uid) throw new ValidationError(`create(${uid}) got an object whose UID is ${t.uid}`);
    if (t.droppedProperties) this.d.log?.("warn", "repeated X-LABHOG properties did not fit Google's 1024 characters; the first ones were kept", { uid: t.uid, dropped: t.droppedProperties });
    return t;
  }

  async create(uid: string, ics: string): Promise<CalendarObject> {
    const t = this.translate(ics, uid);
    if (!t.master) {
      // Only overrides: they attach to the existing series with this UID.
      const series = await this.findSeries(uid, false);
      if (!series) throw new NotFoundError(`no series with UID ${uid} to attach the override to`);
      for (const ov of t.overrides) await this.writeInstance(series.id!, ov);
      return this.get(series.id!);
    }
    const id = await eventIdFor(uid);
    const body: GEvent = { ...this.outgoing(t.master), id };
    let created: GEvent;
    try {
      created = await this.call({ op: "insert", id }, (attempt) =>
        this.api.events.insert({ calendarId: this.d.calendarId, requestBody: body }).catch((e: unknown) => {
          // A resent insert whose first try went through (its answer was lost) finds its own event.
          if (attempt > 1 && (e as { response?: { status?: number } })?.response?.status === 409) return this.ownEarlierInsert(id, body, e);
          throw e;
        }),
      );
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      created = await this.reviveDeleted(uid, id, body, e);
    }
    const exceptions: GEvent[] = [];
    for (const ov of t.overrides) exceptions.push(await this.writeInstance(created.id!, ov));
    return this.toObject({ master: created, exceptions });
  }

  /** After a lost answer, the event under our deterministic id is ours if it holds what we sent. */
  private async ownEarlierInsert(id: string, body: GEvent, conflict: unknown): Promise<{ data: GEvent }> {
    const res = await this.api.events.get({ calendarId: this.d.calendarId, eventId: id });
    const ev = res.data;
    const same =
      ev.status !== "cancelled" &&
      ev.iCalUID === body.iCalUID &&
      ev.summary === body.summary &&
      Date.parse(ev.start?.dateTime ?? ev.start?.date ?? "") === Date.parse(body.start?.dateTime ?? body.start?.date ?? "") &&
      Date.parse(ev.end?.dateTime ?? ev.end?.date ?? "") === Date.parse(body.end?.dateTime ?? body.end?.date ?? "") &&
      sameMap(ev.extendedProperties?.private, body.extendedProperties?.private);
    if (!same) throw conflict;
    this.d.log?.("info", "google insert was resent after a lost answer; the first one had gone through", { id });
    return res;
  }

  /**
   * Google keeps a deleted event (status cancelled) with its id and
   * iCalUID, so inserting the UID again is a 409. Creating again after a
   * delete is allowed by the contract: bring the deleted event back with the
   * new content. When Google refuses that (403), say so: the UID can't be
   * used on this calendar again, and nothing half-made is left behind.
   */
  private async reviveDeleted(uid: string, id: string, body: GEvent, conflict: ConflictError): Promise<GEvent> {
    let old: GEvent | undefined;
    try {
      old = await this.call({ op: "get", id }, () => this.api.events.get({ calendarId: this.d.calendarId, eventId: id }));
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      old = await this.findSeries(uid, true); // made before ids were derived from UIDs, or by someone else
    }
    if (!old || old.status !== "cancelled") throw new ConflictError(`an event with UID ${uid} already exists in google calendar ${this.d.calendarId}`, { uid, eventId: old?.id ?? id });
    const { id: _id, ...content } = body;
    try {
      return await this.call({ op: "revive", id: old.id! }, () =>
        this.api.events.update(
          { calendarId: this.d.calendarId, eventId: old!.id!, requestBody: { ...content, status: content.status ?? "confirmed" } },
          { headers: { "If-Match": old!.etag! } },
        ),
      );
    } catch (e) {
      if (e instanceof ForbiddenError) {
        throw new ConflictError(
          `UID ${uid} belonged to an event deleted from google calendar ${this.d.calendarId}, and Google refuses to bring it back (403); book again under a new UID`,
          { uid, eventId: old.id, reason: "deleted-uid-not-revivable", cause: conflict.message },
        );
      }
      throw e;
    }
  }

  private async findSeries(uid: string, showDeleted: boolean): Promise<GEvent | undefined> {
    const { items } = await this.listPages({ iCalUID: uid, showDeleted, singleEvents: false }, { op: "lookup" });
    const top = items.filter((ev) => !ev.recurringEventId);
    return top.find((ev) => ev.status !== "cancelled") ?? top[0];
  }

  /** An override is written to Google's instance id: patching an instance makes it an exception. */
  private writeInstance(seriesId: string, ov: TranslatedOverride, etag?: string): Promise<GEvent> {
    const eventId = `${seriesId}_${ov.instanceSuffix}`;
    return this.call({ op: "patch-instance", id: eventId }, () =>
      this.api.events.patch(
        { calendarId: this.d.calendarId, eventId, requestBody: this.patchBody(ov.event, false) },
        etag ? { headers: { "If-Match": etag } } : {},
      ),
    );
  }

  /** The Google etag to send as If-Match for `id`, checking a composite (series) etag against the series as it is now. */
  private async currentFor(id: string, etag: string): Promise<{ masterEtag: string; group?: Group }> {
    if (!etag.startsWith(GROUP_ETAG_PREFIX)) return { masterEtag: etag };
    const group = await this.fetchGroup(id);
    if (!group) throw new NotFoundError(`google event ${id} was deleted`);
    if (groupEtag(group) !== etag) throw new PreconditionFailedError(`google event ${id} (a series) changed since etag ${etag}`);
    return { masterEtag: group.master.etag!, group };
  }

  async update(id: string, ics: string, etag: string): Promise<CalendarObject> {
    const t = this.translate(ics);
    if (!t.master) throw new ValidationError("an update needs the series' VEVENT (without RECURRENCE-ID)");
    const { masterEtag, group } = await this.currentFor(id, etag);
    const master = await this.call({ op: "patch", id }, () =>
      this.api.events.patch({ calendarId: this.d.calendarId, eventId: id, requestBody: this.patchBody(t.master!) }, { headers: { "If-Match": masterEtag } }),
    );
    if (!master.recurrence?.length && !group?.exceptions.length) return this.toObject({ master, exceptions: [] });
    const existing = new Map((group?.exceptions ?? []).map((ex) => [ex.id!, ex]));
    for (const ov of t.overrides) {
      // Only what changed: every write counts against the shared quota, and a cancelled occurrence stays cancelled.
      const now = existing.get(`${id}_${ov.instanceSuffix}`);
      if (now && sameOccurrence(now, ov.event)) continue;
      await this.writeInstance(id, ov);
    }
    return this.get(id); // the series with all its exceptions, as they are now
  }

  async delete(id: string, etag?: string): Promise<void> {
    const ifMatch = etag === undefined ? undefined : (await this.currentFor(id, etag)).masterEtag;
    // Deleting a series' master deletes its exceptions with it (Google cancels them).
    await this.call({ op: "delete", id }, () =>
      this.api.events.delete({ calendarId: this.d.calendarId, eventId: id }, ifMatch ? { headers: { "If-Match": ifMatch } } : {}),
    );
  }

  /**
   * Push notifications (events.watch): Google POSTs to `address` whenever an
   * event of this calendar changes, echoing `token` in X-Goog-Channel-Token.
   * Channels cannot be renewed, only replaced: create a new one before
   * `expiration` and stop the old one.
   */
  async watch(o: WatchRequest): Promise<WatchChannel> {
    const ch = await this.call({ op: "watch" }, () =>
      this.api.events.watch({
        calendarId: this.d.calendarId,
        requestBody: { id: o.id, type: "web_hook", address: o.address, token: o.token, ...(o.ttlSeconds ? { params: { ttl: String(o.ttlSeconds) } } : {}) },
      }),
    );
    if (!ch.id || !ch.resourceId) throw new LabhogError("google-error", 502, "google answered events.watch without channel id or resourceId");
    const expiration = Number(ch.expiration);
    return { id: ch.id, resourceId: ch.resourceId, expiration: Number.isFinite(expiration) && expiration > 0 ? expiration : Date.now() + 7 * 86_400_000 };
  }

  /** Stops a channel (channels.stop); an unknown channel is not an error. */
  async stopWatch(id: string, resourceId: string): Promise<void> {
    try {
      await this.call({ op: "stop-watch", id }, () => this.api.channels.stop({ requestBody: { id, resourceId } }));
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }
}

export interface WatchRequest {
  /** Channel id: unique per channel (a UUID). */
  id: string;
  /** HTTPS URL Google notifies. */
  address: string;
  /** Echoed back in X-Goog-Channel-Token (at most 256 characters). */
  token: string;
  /** Requested lifetime; Google may grant less. */
  ttlSeconds?: number;
}

export interface WatchChannel {
  id: string;
  resourceId: string;
  /** Epoch ms when Google stops sending. */
  expiration: number;
}

/**
 * The etag of an object: Google's own for a single event or a series
 * without exceptions; for a series with exceptions a digest of every
 * member's etag (a cancelled exception counts as id + "cancelled"), so a
 * change to any member changes it.
 */
export function groupEtag(g: Group): string {
  if (g.exceptions.length === 0) return g.master.etag!;
  // A cancelled exception counts by its identity only: listings may trim it (no etag), gets don't.
  const parts = [g.master.etag ?? "", ...g.exceptions.map((ex) => `${ex.id}=${ex.status === "cancelled" ? "cancelled" : ex.etag}`).sort()];
  return `${GROUP_ETAG_PREFIX}${fnv1a(parts.join("|"))}"`;
}

/** An exception as Google has it already says what the override VEVENT says (as far as labhog maps it). */
function sameOccurrence(current: GEvent, wanted: GEvent): boolean {
  if (current.status === "cancelled" || wanted.status === "cancelled") return current.status === wanted.status;
  const t = (x: calendar_v3.Schema$EventDateTime | undefined) => Date.parse(x?.dateTime ?? (x?.date ? `${x.date}T00:00:00Z` : ""));
  return (
    t(current.start) === t(wanted.start) &&
    t(current.end) === t(wanted.end) &&
    (current.summary ?? undefined) === (wanted.summary ?? current.summary ?? undefined) &&
    (current.transparency ?? "opaque") === (wanted.transparency ?? "opaque") &&
    sameMap(labhogOnly(current.extendedProperties?.private), labhogOnly(wanted.extendedProperties?.private))
  );
}

function labhogOnly(m: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => k.toUpperCase().startsWith("X-LABHOG-")));
}

/** Two string maps with the same entries, in any order (Google does not promise to keep ours). */
function sameMap(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ea = Object.entries(a ?? {}).sort(([x], [y]) => (x < y ? -1 : 1));
  const eb = Object.entries(b ?? {}).sort(([x], [y]) => (x < y ? -1 : 1));
  return JSON.stringify(ea) === JSON.stringify(eb);
}

function fnv1a(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}

export { defaultRetryPolicy };
