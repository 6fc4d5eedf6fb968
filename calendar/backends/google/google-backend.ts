import { calendar_v3 } from "@googleapis/calendar";
import type { CalendarBackend, CalendarObject, SyncOptions, SyncResult } from "../backend.ts";
import type { TimeWindow } from "../../model.ts";
import { ConflictError, LabhogError, NotFoundError, SyncTokenInvalidError, ValidationError } from "../../errors.ts";
import { eventToIcs } from "./event-to-ics.ts";
import { toLabhogError, type GoogleErrorContext } from "./google-errors.ts";
import { icsToEvents, type TranslatedOverride } from "./ics-to-event.ts";
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
  log?: GoogleLog;
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

  private async call<T>(ctx: GoogleErrorContext, fn: () => Promise<{ data: T }>, signal?: AbortSignal): Promise<T> {
    return withRetry(
      this.d.retry,
      async () => {
        try {
          return (await fn()).data;
        } catch (e) {
          throw toLabhogError(e, ctx);
        }
      },
      {
        ...(signal ? { signal } : {}),
        onRetry: ({ attempt, delayMs, error }) =>
          this.d.log?.("warn", "google request failed, retrying", { op: ctx.op, id: ctx.id, attempt, delayMs: Math.round(delayMs), error: error.message }),
      },
    );
  }

  private toObject(ev: GEvent): CalendarObject {
    if (!ev.id || !ev.etag) throw new LabhogError("google-error", 502, "google returned an event without id or etag");
    return { id: ev.id, etag: ev.etag, ics: eventToIcs(ev) };
  }

  /**
   * Google trims cancelled instances in listings to id, status,
   * recurringEventId and originalStartTime: their object still needs the
   * series UID, taken from the series in the same listing or fetched once.
   */
  private async objectsOf(items: GEvent[], signal?: AbortSignal): Promise<CalendarObject[]> {
    const uidOf = new Map<string, string>();
    for (const ev of items) if (ev.id && ev.iCalUID && !ev.recurringEventId) uidOf.set(ev.id, ev.iCalUID);
    const out: CalendarObject[] = [];
    for (const ev of items) {
      if (ev.recurringEventId && !ev.iCalUID) {
        let uid = uidOf.get(ev.recurringEventId);
        if (uid === undefined) {
          const seriesId = ev.recurringEventId;
          try {
            const series = await this.call({ op: "get-series", id: seriesId }, () => this.api.events.get({ calendarId: this.d.calendarId, eventId: seriesId }), signal);
            uid = series.iCalUID ?? `${seriesId}@google.com`;
          } catch (e) {
            if (!(e instanceof NotFoundError)) throw e;
            uid = `${seriesId}@google.com`;
          }
          uidOf.set(seriesId, uid);
        }
        out.push(this.toObject({ ...ev, iCalUID: uid }));
      } else {
        out.push(this.toObject(ev));
      }
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

  async list(window: TimeWindow): Promise<CalendarObject[]> {
    const { items } = await this.listPages(
      { timeMin: window.start.toISOString(), timeMax: window.end.toISOString(), singleEvents: false, showDeleted: false },
      { op: "list" },
    );
    // Cancelled instances still come (singleEvents=false): they are the overrides that remove an occurrence.
    return this.objectsOf(items.filter((ev) => ev.status !== "cancelled" || ev.recurringEventId));
  }

  async sync(token: string | null, options: SyncOptions = {}): Promise<SyncResult> {
    if (token) {
      try {
        const { items, nextSyncToken } = await this.listPages({ syncToken: token }, { op: "sync", withSyncToken: true }, options);
        const kept: GEvent[] = [];
        const deleted: string[] = [];
        const deletedSeries = new Set(items.filter((ev) => ev.status === "cancelled" && !ev.recurringEventId).map((ev) => ev.id!));
        for (const ev of items) {
          // A cancelled instance is an override (the occurrence is gone), not a deleted object,
          // unless its whole series went with it (Google cancels a deleted series' exceptions).
          if (ev.status === "cancelled" && (!ev.recurringEventId || deletedSeries.has(ev.recurringEventId))) deleted.push(ev.id!);
          else kept.push(ev);
        }
        const changed = await this.objectsOf(kept, options.signal);
        return { changed, deleted, token: this.requireToken(nextSyncToken), full: false };
      } catch (e) {
        if (!(e instanceof SyncTokenInvalidError)) throw e;
        this.d.log?.("info", "google refused the sync token, doing a full sync", { calendarId: this.d.calendarId, reason: e.message });
      }
    }
    const { items, nextSyncToken } = await this.listPages({ singleEvents: false, showDeleted: false }, { op: "sync" }, options);
    const changed = await this.objectsOf(items.filter((ev) => ev.status !== "cancelled" || ev.recurringEventId), options.signal);
    return { changed, deleted: [], token: this.requireToken(nextSyncToken), full: true };
  }

  private requireToken(t: string | undefined): string {
    if (!t) throw new LabhogError("google-error", 502, "google's last events page carried no nextSyncToken");
    return t;
  }

  async get(id: string): Promise<CalendarObject> {
    const ev = await this.call({ op: "get", id }, () => this.api.events.get({ calendarId: this.d.calendarId, eventId: id }));
    // Google keeps deleted events readable (status cancelled); for us they are gone.
    if (ev.status === "cancelled" && !ev.recurringEventId) throw new NotFoundError(`google event ${id} was deleted`);
    return this.toObject(ev);
  }

  async create(uid: string, ics: string): Promise<CalendarObject> {
    const t = icsToEvents(ics, { defaultTimeZone: this.d.timeZone });
    if (t.uid !== uid) throw new ValidationError(`create(${uid}) got an object whose UID is ${t.uid}`);
    if (!t.master) {
      // Only overrides: they attach to the existing series with this UID.
      const series = await this.findSeries(uid, false);
      if (!series) throw new NotFoundError(`no series with UID ${uid} to attach the override to`);
      let last: GEvent | undefined;
      for (const ov of t.overrides) last = await this.writeInstance(series.id!, ov);
      return this.toObject(last!);
    }
    const master = t.master;
    let created: GEvent;
    try {
      created = await this.call({ op: "insert" }, () => this.api.events.insert({ calendarId: this.d.calendarId, requestBody: master }));
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      created = await this.reviveDeleted(uid, master, e);
    }
    for (const ov of t.overrides) await this.writeInstance(created.id!, ov);
    return this.toObject(created);
  }

  /**
   * Google keeps a deleted event (status cancelled) and its iCalUID, so
   * inserting the UID again is a 409. Creating again after a delete is
   * allowed by the contract: bring the deleted event back with the new content.
   */
  private async reviveDeleted(uid: string, body: GEvent, conflict: ConflictError): Promise<GEvent> {
    const old = await this.findSeries(uid, true);
    if (!old || old.status !== "cancelled") throw conflict;
    return this.call({ op: "revive", id: old.id! }, () =>
      this.api.events.update(
        { calendarId: this.d.calendarId, eventId: old.id!, requestBody: { ...body, status: body.status ?? "confirmed" } },
        { headers: { "If-Match": old.etag! } },
      ),
    );
  }

  private async findSeries(uid: string, showDeleted: boolean): Promise<GEvent | undefined> {
    const { items } = await this.listPages({ iCalUID: uid, showDeleted, singleEvents: false }, { op: "lookup" });
    const top = items.filter((ev) => !ev.recurringEventId);
    return top.find((ev) => ev.status !== "cancelled") ?? top[0];
  }

  /** An override is written to Google's instance id: updating an instance makes it an exception. */
  private writeInstance(seriesId: string, ov: TranslatedOverride, etag?: string): Promise<GEvent> {
    const eventId = `${seriesId}_${ov.instanceSuffix}`;
    return this.call({ op: "update-instance", id: eventId }, () =>
      this.api.events.update(
        { calendarId: this.d.calendarId, eventId, requestBody: { ...ov.event, recurringEventId: seriesId } },
        etag ? { headers: { "If-Match": etag } } : {},
      ),
    );
  }

  async update(id: string, ics: string, etag: string): Promise<CalendarObject> {
    const t = icsToEvents(ics, { defaultTimeZone: this.d.timeZone });
    const master = t.master;
    if (!master) {
      // An override object: its one RECURRENCE-ID VEVENT is this instance.
      const [ov, ...rest] = t.overrides;
      if (!ov || rest.length) throw new ValidationError("an override object holds exactly one RECURRENCE-ID VEVENT");
      const seriesId = id.includes("_") ? id.slice(0, id.lastIndexOf("_")) : id;
      return this.toObject(await this.writeInstance(seriesId, ov, etag));
    }
    const updated = await this.call({ op: "update", id }, () =>
      this.api.events.update({ calendarId: this.d.calendarId, eventId: id, requestBody: master }, { headers: { "If-Match": etag } }),
    );
    for (const ov of t.overrides) await this.writeInstance(id, ov);
    return this.toObject(updated);
  }

  async delete(id: string, etag?: string): Promise<void> {
    await this.call({ op: "delete", id }, () =>
      this.api.events.delete({ calendarId: this.d.calendarId, eventId: id }, etag ? { headers: { "If-Match": etag } } : {}),
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

export { defaultRetryPolicy };
