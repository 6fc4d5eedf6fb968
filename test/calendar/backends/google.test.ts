/**
 * The google backend against the Google Calendar STAND-IN server
 * (test/google-standin: a test double over real HTTP, not Google).
 */
import ICAL from "ical.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGoogleBackend, type GoogleBackendOptions } from "../../../calendar/backends/google/index.ts";
import { ConflictError, NotFoundError, PreconditionFailedError, UnauthorizedError, UnavailableError, ValidationError } from "../../../calendar/errors.ts";
import { GoogleQuotaExceededError, GoogleRateLimitError } from "../../../calendar/backends/google/google-errors.ts";
import { backoffMs, defaultRetryPolicy } from "../../../calendar/backends/google/retry.ts";
import { backendContract } from "../contract/backend-contract.ts";
import { reservationsFromIcs } from "../../../calendar/ical/index.ts";
import { startGoogleStandin, type GoogleStandin } from "../../google-standin/server.ts";

let standin: GoogleStandin;
let credentials: Record<string, string>;

beforeAll(async () => {
  standin = await startGoogleStandin();
  credentials = await standin.createServiceAccount();
});
afterAll(async () => {
  await standin?.close();
});

function backendOn(calendarId: string, extra: Partial<GoogleBackendOptions> = {}) {
  return createGoogleBackend({
    calendarId,
    credentials: JSON.stringify(credentials),
    apiRoot: standin.apiRoot,
    tokenUrl: standin.tokenUrl,
    retry: { baseDelayMs: 20, maxDelayMs: 200 },
    ...extra,
  });
}

function fresh(extra: Partial<GoogleBackendOptions> = {}) {
  const cal = standin.createCalendar();
  return { cal, backend: backendOn(cal.id, extra) };
}

/** Requests to the calendar API made since `mark` (an index into standin.requests). */
function apiRequestsSince(mark: number) {
  return standin.requests.slice(mark).filter((r) => r.path.startsWith("/calendar/"));
}

function vevents(ics: string): ICAL.Component[] {
  return new ICAL.Component(ICAL.parse(ics) as unknown[]).getAllSubcomponents("vevent");
}

function only(ics: string): ICAL.Component {
  const v = vevents(ics);
  expect(v).toHaveLength(1);
  return v[0]!;
}

function ics(lines: string[]): string {
  return ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//labhog//google test//EN", ...lines, "END:VCALENDAR", ""].join("\r\n");
}

// Small pages so that the contract's 120-object sync crosses several of them.
backendContract("google (stand-in)", async () => {
  const { backend } = fresh({ pageSize: 50 });
  return { backend, cleanup: async () => {} };
});

describe("google backend: paging and sync tokens", () => {
  it("follows pageToken across pages; nextSyncToken comes only on the last page", async () => {
    // Observe the wire through a pass-through fetch: the bodies Google (the stand-in) sent.
    const pages: { nextPageToken?: string; nextSyncToken?: string; items: unknown[] }[] = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const url = new URL(input instanceof Request ? input.url : String(input));
      if ((init?.method ?? "GET") === "GET" && url.pathname.endsWith("/events") && res.ok) pages.push(await res.clone().json());
      return res;
    };
    const { backend } = fresh({ pageSize: 7, fetch: recordingFetch });
    const created = [];
    for (let i = 0; i < 20; i++) {
      created.push(await backend.create(`page-${i}@labhog.test`, ics(["BEGIN:VEVENT", `UID:page-${i}@labhog.test`, "DTSTAMP:20260101T000000Z", `DTSTART:2030010${1 + (i % 5)}T090000Z`, `DTEND:2030010${1 + (i % 5)}T100000Z`, `SUMMARY:page ${i}`, "END:VEVENT"])));
    }
    const progress: number[] = [];
    const full = await backend.sync(null, { onProgress: (p) => progress.push(p.fetched) });
    expect(full.full).toBe(true);
    expect(full.changed.map((o) => o.id).sort()).toEqual(created.map((c) => c.id).sort());
    expect(pages.map((p) => p.items.length)).toEqual([7, 7, 6]);
    expect(pages.slice(0, -1).every((p) => p.nextPageToken && !p.nextSyncToken)).toBe(true);
    expect(pages.at(-1)!.nextSyncToken).toBeTruthy();
    expect(pages.at(-1)!.nextPageToken).toBeUndefined();
    expect(full.token).toBe(`g2:${pages.at(-1)!.nextSyncToken}`); // labhog's prefix: tokens from before series were grouped mean a full sync
    expect(progress).toEqual([7, 14, 20]);

    // Incremental changes spanning pages too: 9 updates and 3 deletes = 12 items, two pages.
    pages.length = 0;
    const updated = [];
    for (let i = 0; i < 9; i++) {
      const c = created[i]!;
      updated.push(await backend.update(c.id, ics(["BEGIN:VEVENT", `UID:page-${i}@labhog.test`, "DTSTAMP:20260101T000000Z", "DTSTART:20300101T090000Z", "DTEND:20300101T110000Z", `SUMMARY:changed ${i}`, "END:VEVENT"]), c.etag));
    }
    for (const c of created.slice(17)) await backend.delete(c.id, c.etag);
    const inc = await backend.sync(full.token);
    expect(inc.full).toBe(false);
    expect(pages.map((p) => p.items.length)).toEqual([7, 5]);
    expect(pages[0]!.nextSyncToken).toBeUndefined();
    expect(inc.changed.map((o) => o.id).sort()).toEqual(updated.map((u) => u.id).sort());
    expect(inc.deleted.sort()).toEqual(created.slice(17).map((c) => c.id).sort());
  });

  it("a 410 Gone on a stale sync token turns into a full resync (full: true)", async () => {
    const { cal, backend } = fresh();
    const a = await backend.create("gone-a@labhog.test", ics(["BEGIN:VEVENT", "UID:gone-a@labhog.test", "DTSTAMP:20260101T000000Z", "DTSTART:20300101T090000Z", "DTEND:20300101T100000Z", "SUMMARY:a", "END:VEVENT"]));
    const t0 = (await backend.sync(null)).token;
    const b = await backend.create("gone-b@labhog.test", ics(["BEGIN:VEVENT", "UID:gone-b@labhog.test", "DTSTAMP:20260101T000000Z", "DTSTART:20300102T090000Z", "DTEND:20300102T100000Z", "SUMMARY:b", "END:VEVENT"]));
    cal.invalidateSyncTokens(); // what Google does when a token expires
    const mark = standin.requests.length;
    const r = await backend.sync(t0);
    expect(r.full).toBe(true);
    expect(r.deleted).toEqual([]);
    expect(r.changed.map((o) => o.id).sort()).toEqual([a.id, b.id].sort());
    const seen = apiRequestsSince(mark);
    expect(seen.map((x) => x.status)).toEqual([410, 200]);
    expect(seen[0]!.query).toContain("syncToken=");
    expect(seen[1]!.query).not.toContain("syncToken=");
    // The new token is good for incremental syncs again.
    expect(await backend.sync(r.token)).toMatchObject({ full: false, changed: [], deleted: [] });
  });
});

describe("google backend: retries", () => {
  it("retries 503 (honouring Retry-After) and 429, then succeeds", async () => {
    const { backend } = fresh();
    const c = await backend.create("retry@labhog.test", ics(["BEGIN:VEVENT", "UID:retry@labhog.test", "DTSTAMP:20260101T000000Z", "DTSTART:20300101T090000Z", "DTEND:20300101T100000Z", "SUMMARY:retry", "END:VEVENT"]));
    standin.injectFaults(503, 1, { retryAfter: "1" });
    standin.injectFaults(429, 1);
    const mark = standin.requests.length;
    const t = Date.now();
    const got = await backend.get(c.id);
    const elapsed = Date.now() - t;
    expect(got.etag).toBe(c.etag);
    expect(apiRequestsSince(mark).map((r) => r.status)).toEqual([503, 429, 200]);
    expect(elapsed).toBeGreaterThanOrEqual(1000); // the server asked for 1 s
  });

  it("gives up after the configured attempts with UnavailableError", async () => {
    const { backend } = fresh({ retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 } });
    standin.injectFaults(503, 3);
    const mark = standin.requests.length;
    const e = await backend.list({ start: new Date(Date.UTC(2030, 0, 1)), end: new Date(Date.UTC(2030, 0, 2)) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnavailableError);
    expect(apiRequestsSince(mark).map((r) => r.status)).toEqual([503, 503, 503]);
  });

  it("hands a long Retry-After to the caller instead of sleeping through it", async () => {
    const { backend } = fresh({ retry: { maxRetryAfterMs: 5_000 } });
    standin.injectFaults(429, 1, { retryAfter: "120" });
    const mark = standin.requests.length;
    const e = await backend.sync(null).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnavailableError);
    expect((e as UnavailableError).retryAfter).toBe(120);
    expect(apiRequestsSince(mark)).toHaveLength(1);
  });

  it("treats an unreachable server as transient: retried, then UnavailableError", async () => {
    const { createServer } = await import("node:net");
    // A port that was free a moment ago: connections are refused.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const attempts: string[] = [];
    const { backend } = fresh({
      apiRoot: `http://127.0.0.1:${port}/`,
      retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
      fetch: async (input, init) => {
        attempts.push(String(input));
        return fetch(input, init);
      },
    });
    const e = await backend.sync(null).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnavailableError);
    expect(attempts.filter((u) => u.includes(`:${port}/calendar/`))).toHaveLength(3);
  });

  it("stops when the caller aborts", async () => {
    const { backend } = fresh({ retry: { attempts: 5 } });
    standin.injectFaults(503, 5, { retryAfter: "2" });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("shutting down")), 200);
    const t = Date.now();
    const e = await backend.sync(null, { signal: ac.signal }).catch((x: unknown) => x);
    expect(String((e as Error).message)).toContain("shutting down");
    expect(Date.now() - t).toBeLessThan(1500);
    standin.clearFaults(); // the unserved ones must not hit other tests
  });

  it("does not retry non-transient failures (404, 412)", async () => {
    const { backend } = fresh();
    const c = await backend.create("noretry@labhog.test", ics(["BEGIN:VEVENT", "UID:noretry@labhog.test", "DTSTAMP:20260101T000000Z", "DTSTART:20300101T090000Z", "DTEND:20300101T100000Z", "SUMMARY:v1", "END:VEVENT"]));
    const mark = standin.requests.length;
    await expect(backend.get("doesnotexist0")).rejects.toBeInstanceOf(NotFoundError);
    await expect(backend.update(c.id, ics(["BEGIN:VEVENT", "UID:noretry@labhog.test", "DTSTAMP:20260101T000000Z", "DTSTART:20300101T090000Z", "DTEND:20300101T100000Z", "SUMMARY:v2", "END:VEVENT"]), '"stale"')).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(apiRequestsSince(mark).map((r) => r.status)).toEqual([404, 412]);
  });
});

describe("google backend: service-account auth", () => {
  it("exchanges one JWT for a token and reuses it for many requests (also when they start together)", async () => {
    const { backend } = fresh();
    const before = standin.auth.tokenRequests;
    await Promise.all(Array.from({ length: 8 }, () => backend.sync(null)));
    for (let i = 0; i < 20; i++) await backend.list({ start: new Date(Date.UTC(2030, 0, 1)), end: new Date(Date.UTC(2030, 0, 2)) });
    expect(standin.auth.tokenRequests - before).toBe(1);
  });

  it("fetches a new token shortly before the old one expires", async () => {
    const { backend } = fresh();
    standin.auth.tokenLifetimeSeconds = 8; // the refresh margin is then half of it: a new token after 4 s
    try {
      const before = standin.auth.tokenRequests;
      await backend.sync(null);
      await backend.sync(null);
      expect(standin.auth.tokenRequests - before).toBe(1);
      await new Promise((r) => setTimeout(r, 4100));
      await backend.sync(null);
      expect(standin.auth.tokenRequests - before).toBe(2);
    } finally {
      standin.auth.tokenLifetimeSeconds = 3599;
    }
  });

  it("recovers when the server revokes its tokens early (one new exchange)", async () => {
    const { backend } = fresh();
    await backend.sync(null);
    standin.auth.revokeAllTokens();
    const before = standin.auth.tokenRequests;
    const mark = standin.requests.length;
    await backend.sync(null);
    expect(standin.auth.tokenRequests - before).toBe(1);
    expect(apiRequestsSince(mark).map((r) => r.status)).toEqual([401, 200]);
  });

  it("a refused bearer is UnauthorizedError (after one fresh token), not retried forever", async () => {
    const { backend } = fresh();
    standin.auth.rejectAllBearers = true;
    try {
      const mark = standin.requests.length;
      const e = await backend.sync(null).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(UnauthorizedError);
      expect(apiRequestsSince(mark).map((r) => r.status)).toEqual([401, 401]);
    } finally {
      standin.auth.rejectAllBearers = false;
    }
  });

  it("a JWT signed with the wrong key is refused by the token endpoint: UnauthorizedError", async () => {
    const other = await standin.createServiceAccount();
    const cal = standin.createCalendar();
    // client_email of one account, private key of another: the signature cannot verify.
    const backend = createGoogleBackend({
      calendarId: cal.id,
      credentials: { ...credentials, private_key: other.private_key! } as never,
      apiRoot: standin.apiRoot,
      tokenUrl: standin.tokenUrl,
    });
    const e = await backend.sync(null).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnauthorizedError);
    expect(String((e as Error).message)).toContain("Invalid JWT Signature");
  });

  it("refuses credentials that are not a service-account key", () => {
    expect(() => createGoogleBackend({ calendarId: "x", credentials: "{not json" })).toThrow(ValidationError);
    expect(() => createGoogleBackend({ calendarId: "x", credentials: JSON.stringify({ type: "authorized_user", client_email: "a", private_key: "b" }) })).toThrow(ValidationError);
  });
});

describe("google backend: iCalendar ⇄ Google events", () => {
  const series = [
    "BEGIN:VEVENT",
    "UID:series-1@labhog.test",
    "DTSTAMP:20260101T000000Z",
    "DTSTART;TZID=Europe/Berlin:20300325T100000",
    "DTEND;TZID=Europe/Berlin:20300325T110000",
    "RRULE:FREQ=DAILY;COUNT=10",
    "EXDATE;TZID=Europe/Berlin:20300329T100000",
    "SUMMARY:board lab: nightly",
    "TRANSP:TRANSPARENT",
    "X-LABHOG-HOLDER:alice",
    "END:VEVENT",
    // moved occurrence (crosses the DST change of 2030-03-31)
    "BEGIN:VEVENT",
    "UID:series-1@labhog.test",
    "DTSTAMP:20260101T000000Z",
    "RECURRENCE-ID;TZID=Europe/Berlin:20300401T100000",
    "DTSTART;TZID=Europe/Berlin:20300401T140000",
    "DTEND;TZID=Europe/Berlin:20300401T153000",
    "SUMMARY:board lab: moved",
    "END:VEVENT",
    // cancelled occurrence
    "BEGIN:VEVENT",
    "UID:series-1@labhog.test",
    "DTSTAMP:20260101T000000Z",
    "RECURRENCE-ID;TZID=Europe/Berlin:20300402T100000",
    "DTSTART;TZID=Europe/Berlin:20300402T100000",
    "DTEND;TZID=Europe/Berlin:20300402T110000",
    "STATUS:CANCELLED",
    "END:VEVENT",
  ];

  it("round-trips a series with a moved and a cancelled occurrence: ONE object, the exceptions as RECURRENCE-ID VEVENTs", async () => {
    const { cal, backend } = fresh();
    const master = await backend.create("series-1@labhog.test", ics(series));
    // Google's instance ids: <series id>_<original start in UTC>; each exception is its own Google event.
    const movedId = `${master.id}_20300401T080000Z`;
    const cancelledId = `${master.id}_20300402T080000Z`;
    const stored = cal.get(movedId);
    expect(stored.recurringEventId).toBe(master.id);
    expect(stored.originalStartTime).toEqual({ dateTime: "2030-04-01T08:00:00Z", timeZone: "Europe/Berlin" });
    expect(cal.get(cancelledId).status).toBe("cancelled");

    const full = await backend.sync(null);
    expect(full.changed.map((o) => o.id)).toEqual([master.id]);
    const obj = full.changed[0]!;
    expect(obj.etag).toBe(master.etag);
    const [m, mv, cx, ...rest] = vevents(obj.ics);
    expect(rest).toEqual([]);
    expect(m!.getFirstPropertyValue("uid")).toBe("series-1@labhog.test");
    expect(m!.getFirstProperty("dtstart")!.toICALString()).toBe("DTSTART;TZID=Europe/Berlin:20300325T100000");
    expect(m!.getFirstProperty("dtend")!.toICALString()).toBe("DTEND;TZID=Europe/Berlin:20300325T110000");
    expect(m!.getFirstProperty("rrule")!.toICALString()).toBe("RRULE:FREQ=DAILY;COUNT=10");
    expect(m!.getFirstProperty("exdate")!.toICALString()).toBe("EXDATE;TZID=Europe/Berlin:20300329T100000");
    expect(m!.getFirstPropertyValue("transp")).toBe("TRANSPARENT");
    expect(m!.getFirstPropertyValue("x-labhog-holder")).toBe("alice");
    expect(m!.getFirstProperty("recurrence-id")).toBeNull();
    expect(mv!.getFirstPropertyValue("uid")).toBe("series-1@labhog.test");
    expect(mv!.getFirstProperty("recurrence-id")!.toICALString()).toBe("RECURRENCE-ID;TZID=Europe/Berlin:20300401T100000");
    expect(mv!.getFirstProperty("dtstart")!.toICALString()).toBe("DTSTART;TZID=Europe/Berlin:20300401T140000");
    expect(mv!.getFirstProperty("dtend")!.toICALString()).toBe("DTEND;TZID=Europe/Berlin:20300401T153000");
    expect(mv!.getFirstPropertyValue("summary")).toBe("board lab: moved");
    expect(mv!.getFirstProperty("rrule")).toBeNull();
    expect(cx!.getFirstPropertyValue("uid")).toBe("series-1@labhog.test");
    expect(cx!.getFirstPropertyValue("status")).toBe("CANCELLED");
    expect(cx!.getFirstProperty("recurrence-id")!.toICALString()).toBe("RECURRENCE-ID;TZID=Europe/Berlin:20300402T100000");

    // The window listing brings the same one object.
    const listed = await backend.list({ start: new Date(Date.UTC(2030, 3, 1)), end: new Date(Date.UTC(2030, 3, 3)) });
    expect(listed.map((o) => [o.id, o.etag])).toEqual([[master.id, master.etag]]);

    // An edit of the series object rewrites the moved occurrence; a stale etag is refused.
    const moved2 = ics([...series.slice(0, 11), "BEGIN:VEVENT", "UID:series-1@labhog.test", "DTSTAMP:20260101T000000Z", "RECURRENCE-ID;TZID=Europe/Berlin:20300401T100000", "DTSTART;TZID=Europe/Berlin:20300401T160000", "DTEND;TZID=Europe/Berlin:20300401T170000", "SUMMARY:board lab: moved again", "END:VEVENT"]);
    const obj2 = await backend.update(obj.id, moved2, obj.etag);
    expect(vevents(obj2.ics).find((v) => v.getFirstPropertyValue("summary") === "board lab: moved again")).toBeDefined();
    expect(obj2.etag).not.toBe(obj.etag);
    await expect(backend.update(obj.id, moved2, obj.etag)).rejects.toBeInstanceOf(PreconditionFailedError);

    // Deleting the series takes its exceptions along: one deletion, the series.
    const beforeDelete = (await backend.sync(full.token)).token;
    await backend.delete(obj2.id, obj2.etag);
    const gone = await backend.sync(beforeDelete);
    expect(gone.changed).toEqual([]);
    expect(gone.deleted).toEqual([master.id]);
    expect(await backend.list({ start: new Date(Date.UTC(2030, 3, 1)), end: new Date(Date.UTC(2030, 3, 3)) })).toEqual([]);
  });

  it("a window listing brings a series with all its exceptions, also an occurrence moved out of the window", async () => {
    const { cal, backend } = fresh();
    const ev = cal.seed({ summary: "nightly", start: { dateTime: "2030-04-01T09:00:00Z", timeZone: "UTC" }, end: { dateTime: "2030-04-01T10:00:00Z", timeZone: "UTC" }, recurrence: ["RRULE:FREQ=DAILY;COUNT=10"] });
    cal.write(`${ev.id}_20300402T090000Z`, { start: { dateTime: "2030-04-20T09:00:00Z", timeZone: "UTC" }, end: { dateTime: "2030-04-20T10:00:00Z", timeZone: "UTC" } }, undefined, "patch");
    const window = { start: new Date(Date.UTC(2030, 3, 2)), end: new Date(Date.UTC(2030, 3, 3)) };
    const listed = await backend.list(window);
    expect(listed.map((o) => o.id)).toEqual([ev.id]);
    const users = [{ id: "bob", email: "bob@example.com", unix: ["bob"], sshKeys: [], groups: [] }];
    // The 2 April occurrence moved to the 20th: nothing of this series is on the 2nd.
    expect(reservationsFromIcs(listed[0]!.ics, { resource: "board", timezone: "UTC", users, owner: "bob" }, window, ev.id!)).toEqual([]);
  });

  it("editing a series object writes only what changed: the series, not its unchanged exceptions", async () => {
    const { backend } = fresh();
    await backend.create("series-2@labhog.test", ics(series.map((l) => l.replace("series-1@", "series-2@"))));
    const obj = (await backend.sync(null)).changed[0]!;
    const mark = standin.requests.length;
    const edited = await backend.update(obj.id, obj.ics.replace("SUMMARY:board lab: nightly", "SUMMARY:[conflict] board lab: nightly"), obj.etag);
    expect(apiRequestsSince(mark).filter((r) => r.method !== "GET").map((r) => [r.method, r.path.split("/").at(-1)])).toEqual([["PATCH", obj.id]]);
    expect(vevents(edited.ics).map((v) => v.getFirstPropertyValue("summary"))).toEqual(["[conflict] board lab: nightly", "board lab: moved", null]);
  });

  it("an occurrence moved and one deleted in Google: the ledger's mapping sees the moved one once and the deleted one not at all", async () => {
    const { cal, backend } = fresh();
    // As a person would make it in Google Calendar: organizer, guests, a recurring meeting.
    const seeded = cal.seed({
      summary: "rk3588 bring-up",
      description: "serial console on ttyUSB0",
      start: { dateTime: "2030-05-06T09:00:00+02:00", timeZone: "Europe/Berlin" },
      end: { dateTime: "2030-05-06T12:00:00+02:00", timeZone: "Europe/Berlin" },
      recurrence: ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4"],
      organizer: { email: "bob@example.com", displayName: "Bob" },
      attendees: [
        { email: "bob@example.com", responseStatus: "accepted", organizer: true },
        { email: "carol@example.com", displayName: "Carol", responseStatus: "tentative", optional: true },
      ],
      iCalUID: "abc123@google.com",
    });
    const t0 = (await backend.sync(null)).token;
    cal.delete(`${seeded.id}_20300513T070000Z`, undefined); // the user deletes one Monday…
    cal.write(`${seeded.id}_20300520T070000Z`, { start: { dateTime: "2030-05-21T13:00:00Z", timeZone: "Europe/Berlin" }, end: { dateTime: "2030-05-21T14:00:00Z", timeZone: "Europe/Berlin" } }, undefined, "patch"); // …and moves another to Tuesday
    const mark = standin.requests.length;
    const r = await backend.sync(t0);
    // The listing carried the cancelled instance trimmed (no etag, no iCalUID): it must not fail the sync.
    expect(r.full).toBe(false);
    expect(r.deleted).toEqual([]);
    expect(r.changed.map((o) => o.id)).toEqual([seeded.id]);
    expect(apiRequestsSince(mark).every((x) => x.status === 200)).toBe(true);

    const users = [{ id: "bob", email: "bob@example.com", unix: ["bob"], sshKeys: [], groups: [] }];
    const window = { start: new Date(Date.UTC(2030, 4, 1)), end: new Date(Date.UTC(2030, 5, 1)) };
    const rs = reservationsFromIcs(r.changed[0]!.ics, { resource: "board", timezone: "Europe/Berlin", users }, window, r.changed[0]!.id);
    expect(rs.map((x) => x.start)).toEqual(["2030-05-06T07:00:00.000Z", "2030-05-21T13:00:00.000Z", "2030-05-27T07:00:00.000Z"]);
    expect(rs.every((x) => x.holder.id === "bob")).toBe(true);

    const m = vevents((await backend.get(seeded.id!)).ics)[0]!;
    expect(m.getFirstPropertyValue("organizer")).toBe("mailto:bob@example.com");
    expect(m.getFirstProperty("organizer")!.getParameter("cn")).toBe("Bob");
    const att = m.getAllProperties("attendee");
    expect(att.map((a) => a.getFirstValue())).toEqual(["mailto:bob@example.com", "mailto:carol@example.com"]);
    expect(att[1]!.getParameter("partstat")).toBe("TENTATIVE");
    expect(att[1]!.getParameter("role")).toBe("OPT-PARTICIPANT");
    expect(m.getFirstPropertyValue("description")).toBe("serial console on ttyUSB0");
    expect(m.getFirstPropertyValue("transp")).toBe("OPAQUE");
    expect(m.getFirstProperty("dtstart")!.toICALString()).toBe("DTSTART;TZID=Europe/Berlin:20300506T090000");
    expect(m.getFirstProperty("rrule")!.toICALString()).toBe("RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4");
    expect(m.getFirstProperty("created")).not.toBeNull();
    expect(m.getFirstProperty("dtstamp")!.toICALString()).toMatch(/^DTSTAMP:\d{8}T\d{6}Z$/);

    // Deleting the whole series is one deletion, the series object; its exceptions don't come back as objects.
    cal.delete(seeded.id!, undefined);
    const r2 = await backend.sync(r.token);
    expect(r2).toMatchObject({ changed: [], deleted: [seeded.id] });
  });

  it("carries X-LABHOG-* in extendedProperties.private, both ways, byte for byte", async () => {
    const { cal, backend } = fresh();
    const lines = [
      "X-LABHOG-HOLDER:alice",
      "X-LABHOG-EXCLUSIVE:TRUE",
      "X-LABHOG-IMAGE:https://images.example/rk3588/2030-01.img.zst",
      "X-LABHOG-MODE:dfu",
      "X-LABHOG-STATE:conflict",
      'X-LABHOG-USAGE:{"sessions":2\\,"load":0.5}',
    ];
    const c = await backend.create("xprops@labhog.test", ics(["BEGIN:VEVENT", "UID:xprops@labhog.test", "DTSTAMP:20260101T000000Z", "DTSTART:20300101T090000Z", "DTEND:20300101T100000Z", "SUMMARY:[conflict] alice: flashing", ...lines, "END:VEVENT"]));
    expect(cal.get(c.id).extendedProperties?.private).toEqual({
      "X-LABHOG-HOLDER": "alice",
      "X-LABHOG-EXCLUSIVE": "TRUE",
      "X-LABHOG-IMAGE": "https://images.example/rk3588/2030-01.img.zst",
      "X-LABHOG-MODE": "dfu",
      "X-LABHOG-STATE": "conflict",
      "X-LABHOG-USAGE": '{"sessions":2\\,"load":0.5}',
    });
    const back = (await backend.get(c.id)).ics.split("\r\n");
    for (const l of lines) expect(back).toContain(l);
    // Set by another API client in Google: labhog's keys come out, foreign keys stay in Google.
    const other = cal.seed({
      summary: "made elsewhere",
      start: { dateTime: "2030-01-02T09:00:00Z" },
      end: { dateTime: "2030-01-02T10:00:00Z" },
      extendedProperties: { private: { "X-LABHOG-HOLDER": "bob", "crm-id": "42" }, shared: { "X-LABHOG-MODE": "not ours" } },
    });
    const v = only((await backend.get(other.id!)).ics);
    expect(v.getFirstPropertyValue("x-labhog-holder")).toBe("bob");
    expect(v.getFirstProperty("x-labhog-mode")).toBeNull();
    expect(v.getAllProperties().map((p) => p.name)).not.toContain("crm-id");
  });

  it("all-day events travel as VALUE=DATE", async () => {
    const { cal, backend } = fresh();
    const c = await backend.create("allday@labhog.test", ics(["BEGIN:VEVENT", "UID:allday@labhog.test", "DTSTAMP:20260101T000000Z", "DTSTART;VALUE=DATE:20300110", "DTEND;VALUE=DATE:20300112", "SUMMARY:offsite", "END:VEVENT"]));
    expect(cal.get(c.id).start).toEqual({ date: "2030-01-10" });
    expect(cal.get(c.id).end).toEqual({ date: "2030-01-12" });
    const v = only(c.ics);
    expect(v.getFirstProperty("dtstart")!.toICALString()).toBe("DTSTART;VALUE=DATE:20300110");
    expect(v.getFirstProperty("dtend")!.toICALString()).toBe("DTEND;VALUE=DATE:20300112");
  });

  it("refuses what Google cannot hold, before sending anything", async () => {
    const { backend } = fresh();
    const mark = standin.requests.length;
    await expect(backend.create("r@labhog.test", "not ical")).rejects.toBeInstanceOf(ValidationError);
    await expect(
      backend.create("r@labhog.test", ics(["BEGIN:VEVENT", "UID:r@labhog.test", "DTSTART;TZID=Nowhere/Atlantis:20300101T090000", "DTEND;TZID=Nowhere/Atlantis:20300101T100000", "END:VEVENT"])),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      backend.create("r@labhog.test", ics(["BEGIN:VEVENT", "UID:r@labhog.test", "RECURRENCE-ID;RANGE=THISANDFUTURE:20300101T090000Z", "DTSTART:20300101T100000Z", "DTEND:20300101T110000Z", "END:VEVENT"])),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(backend.create("other@labhog.test", ics(["BEGIN:VEVENT", "UID:r@labhog.test", "DTSTART:20300101T100000Z", "DTEND:20300101T110000Z", "END:VEVENT"]))).rejects.toBeInstanceOf(ValidationError);
    expect(apiRequestsSince(mark)).toEqual([]);
  });
});

describe("google backend inside workerd", () => {
  it("runs unchanged in the Workers runtime (wrangler bundle, nodejs_compat) against the stand-in", async () => {
    const { unstable_dev } = await import("wrangler");
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join, resolve } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "labhog-google-workerd-"));
    // A scratch config: the repo's wrangler.toml is the Worker's, not this check's.
    const config = join(dir, "wrangler.toml");
    await writeFile(config, ['name = "labhog-google-workerd-check"', 'compatibility_date = "2026-05-01"', 'compatibility_flags = ["nodejs_compat"]', ""].join("\n"));
    const worker = await unstable_dev(resolve("test/google-standin/workerd-entry.ts"), {
      config,
      ip: "127.0.0.1",
      port: 0,
      logLevel: "error",
      experimental: { disableExperimentalWarning: true, disableDevRegistry: true },
    });
    try {
      const cal = standin.createCalendar();
      const res = await worker.fetch("http://worker/", {
        method: "POST",
        body: JSON.stringify({ apiRoot: standin.apiRoot, tokenUrl: standin.tokenUrl, calendarId: cal.id, credentials: JSON.stringify(credentials) }),
      });
      const out = (await res.json()) as { ok: boolean; error?: string; steps: Record<string, unknown> };
      expect(out.error).toBeUndefined();
      expect(out.ok).toBe(true);
      expect(String(out.steps.runtime)).toContain("Cloudflare-Workers");
      expect(out.steps.getIcs).toContain("DTSTART;TZID=Europe/Berlin:20300325T100000");
      expect(out.steps.getIcs).toContain("X-LABHOG-HOLDER:alice");
      expect(out.steps.fullCount).toBe(1);
      expect(out.steps.incremental).toEqual({ full: false, changed: [out.steps.created], summaryChanged: true });
      expect(out.steps.stale).toBe("PreconditionFailedError");
      expect(out.steps.listed).toEqual([out.steps.created]);
      expect(out.steps.afterDelete).toBe("NotFoundError");
      expect(cal.get(String(out.steps.created)).status).toBe("cancelled"); // the stand-in saw it all
    } finally {
      await worker.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** Each rule Google documents, enforced by the stand-in, kept by the backend. */
describe("google backend: the rules Google documents", () => {
  const booking = (uid: string, extra: string[] = [], day = "20300110") =>
    ics(["BEGIN:VEVENT", `UID:${uid}`, "DTSTAMP:20260101T000000Z", `DTSTART:${day}T090000Z`, `DTEND:${day}T100000Z`, "SUMMARY:alice: flashing", "ORGANIZER;CN=Alice:mailto:alice@example.com", "ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:alice@example.com", "X-LABHOG-HOLDER:alice", ...extra, "END:VEVENT"]);

  it("G1: the stand-in refuses attendees from a service account without delegation (403 forbiddenForServiceAccounts)", () => {
    const cal = standin.createCalendar();
    const body = { start: { dateTime: "2030-01-01T09:00:00Z" }, end: { dateTime: "2030-01-01T10:00:00Z" }, attendees: [{ email: "alice@example.com" }] };
    expect(() => cal.insert(body, { account: credentials.client_email! })).toThrow(/Domain-Wide Delegation/);
    expect(cal.insert(body, { account: credentials.client_email!, subject: "lab@example.com" }).attendees).toHaveLength(1);
  });

  it("G1: without a subject no attendee (nor organizer) is sent; the holder travels in X-LABHOG-HOLDER", async () => {
    const { cal, backend } = fresh();
    const c = await backend.create("g1-plain@labhog.test", booking("g1-plain@labhog.test"));
    const stored = cal.get(c.id);
    expect(stored.attendees).toBeUndefined();
    expect(stored.organizer).toEqual({ email: cal.id, self: true }); // read-only: Google's choice, not ours
    expect(stored.creator).toEqual({ email: credentials.client_email });
    expect(stored.extendedProperties?.private?.["X-LABHOG-HOLDER"]).toBe("alice");
  });

  it("G1: with a subject (domain-wide delegation) attendees are sent and the delegated user is the creator", async () => {
    const other = await standin.createServiceAccount();
    const cal = standin.createCalendar();
    const make = () => createGoogleBackend({ calendarId: cal.id, credentials: JSON.stringify(other), apiRoot: standin.apiRoot, tokenUrl: standin.tokenUrl, subject: "lab-bot@example.com", retry: { attempts: 1 } });
    // Not granted by the Workspace admin yet: the token endpoint refuses the impersonation.
    await expect(make().sync(null)).rejects.toBeInstanceOf(UnauthorizedError);
    standin.auth.grantDomainWideDelegation(other.client_email!);
    const c = await make().create("g1-dwd@labhog.test", booking("g1-dwd@labhog.test"));
    expect(cal.get(c.id).attendees?.map((a) => a.email)).toEqual(["alice@example.com"]);
    expect(cal.get(c.id).creator).toEqual({ email: "lab-bot@example.com" });
  });

  it("G1: an event a person made in Google on the resource calendar is held by its creator (the calendar is the organizer)", async () => {
    const { cal, backend } = fresh();
    const ev = cal.seed({ summary: "bob's session", start: { dateTime: "2030-01-03T09:00:00Z" }, end: { dateTime: "2030-01-03T10:00:00Z" }, organizer: { email: cal.id, self: true }, creator: { email: "bob@example.com", displayName: "Bob" } });
    const v = only((await backend.get(ev.id!)).ics);
    expect(v.getFirstPropertyValue("organizer")).toBe("mailto:bob@example.com");
    const users = [{ id: "bob", email: "bob@example.com", unix: ["bob"], sshKeys: [], groups: [] }];
    const [r] = reservationsFromIcs((await backend.get(ev.id!)).ics, { resource: "board", timezone: "UTC", users }, { start: new Date(Date.UTC(2030, 0, 1)), end: new Date(Date.UTC(2030, 0, 5)) });
    expect(r!.holder.id).toBe("bob");
  });

  it("G3: the stand-in drops keys over 44 characters and cuts values after 1024, silently, as Google does", () => {
    const cal = standin.createCalendar();
    const ev = cal.seed({ start: { dateTime: "2030-01-01T09:00:00Z" }, end: { dateTime: "2030-01-01T10:00:00Z" } });
    const out = cal.write(ev.id!, { extendedProperties: { private: { ["K".repeat(45)]: "x", "X-LABHOG-USAGE": "u".repeat(2000) } } }, undefined, "patch");
    expect(Object.keys(out.extendedProperties!.private!)).toEqual(["X-LABHOG-USAGE"]);
    expect(out.extendedProperties!.private!["X-LABHOG-USAGE"]).toHaveLength(1024);
  });

  it("G3: a value Google would cut is refused before sending; repeated X-LABHOG-CONFLICT-WITH survive as several", async () => {
    const { cal, backend } = fresh();
    const mark = standin.requests.length;
    await expect(backend.create("g3-big@labhog.test", booking("g3-big@labhog.test", [`X-LABHOG-USAGE:{"x":"${"y".repeat(1100)}"}`]))).rejects.toThrow(/1024/);
    expect(apiRequestsSince(mark)).toEqual([]);
    const c = await backend.create("g3-rep@labhog.test", booking("g3-rep@labhog.test", ["X-LABHOG-STATE:conflict", "X-LABHOG-CONFLICT-WITH:winner-1@labhog.test", "X-LABHOG-CONFLICT-WITH:winner-2@labhog.test"]));
    const back = only((await backend.get(c.id)).ics).getAllProperties("x-labhog-conflict-with").map((p) => p.toICALString().split(":")[1]);
    expect(back).toEqual(["winner-1@labhog.test", "winner-2@labhog.test"]);
    expect(Object.keys(cal.get(c.id).extendedProperties!.private!).every((k) => k.length <= 44)).toBe(true);
  });

  it("G4: the event id derives from the UID (base32hex, 5–1024 chars); an insert resent after a lost answer finds its own event", async () => {
    const { cal, backend } = fresh();
    standin.loseResponses(1, "POST");
    const mark = standin.requests.length;
    const c = await backend.create("g4-lost@labhog.test", booking("g4-lost@labhog.test"));
    expect(c.id).toMatch(/^[a-v0-9]{5,1024}$/);
    const posts = apiRequestsSince(mark).filter((r) => r.method === "POST");
    expect(posts.map((r) => r.status)).toEqual([0, 409]); // the first went through unanswered, the resend met it
    const all = await backend.sync(null);
    expect(all.changed.map((o) => o.id)).toEqual([c.id]);
    expect(cal.get(c.id).iCalUID).toBe("g4-lost@labhog.test");
    // The same UID from another create is still a conflict.
    await expect(backend.create("g4-lost@labhog.test", booking("g4-lost@labhog.test", [], "20300111"))).rejects.toBeInstanceOf(ConflictError);
  });

  it("G4: a deleted UID Google won't revive (409, then 403) is a clear ConflictError, and nothing is left behind", async () => {
    const { cal, backend } = fresh();
    const c = await backend.create("g4-gone@labhog.test", booking("g4-gone@labhog.test"));
    await backend.delete(c.id, c.etag);
    cal.freezeTombstone(c.id);
    const e = await backend.create("g4-gone@labhog.test", booking("g4-gone@labhog.test")).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConflictError);
    expect((e as ConflictError).message).toMatch(/refuses to bring it back.*new UID/);
    expect((e as ConflictError).detail).toMatchObject({ reason: "deleted-uid-not-revivable", uid: "g4-gone@labhog.test" });
    expect((await backend.sync(null)).changed).toEqual([]);
  });

  it("G5: updates are events.patch: reminders, colour, guests and other apps' properties of a person's event survive", async () => {
    const { cal, backend } = fresh();
    const ev = cal.seed({
      summary: "bob's session",
      start: { dateTime: "2030-01-03T09:00:00Z" },
      end: { dateTime: "2030-01-03T10:00:00Z" },
      colorId: "11",
      reminders: { useDefault: false, overrides: [{ method: "popup", minutes: 5 }] },
      attendees: [{ email: "bob@example.com" }, { email: "carol@example.com" }],
      extendedProperties: { private: { "crm-id": "42", "X-LABHOG-MODE": "dfu" } },
    });
    const obj = await backend.get(ev.id!);
    const mark = standin.requests.length;
    const edited = obj.ics.replace("SUMMARY:bob's session", "SUMMARY:[conflict] bob's session").replace(/X-LABHOG-MODE:dfu\r\n/, "X-LABHOG-STATE:conflict\r\n");
    await backend.update(obj.id, edited, obj.etag);
    expect(apiRequestsSince(mark).map((r) => r.method)).toEqual(["PATCH"]);
    const now = cal.get(ev.id!);
    expect(now.summary).toBe("[conflict] bob's session");
    expect(now.colorId).toBe("11");
    expect(now.reminders).toEqual({ useDefault: false, overrides: [{ method: "popup", minutes: 5 }] });
    expect(now.attendees?.map((a) => a.email)).toEqual(["bob@example.com", "carol@example.com"]);
    expect(now.extendedProperties?.private).toEqual({ "crm-id": "42", "X-LABHOG-STATE": "conflict" }); // ours removed, theirs kept
  });

  it("G6: quotaExceeded is not retried; a rate-limit 403 is, with the longer backoff", async () => {
    const { backend } = fresh({ retry: { attempts: 3, rateLimitBaseDelayMs: 20, rateLimitMaxDelayMs: 40 } });
    standin.injectFaults(403, 1, { reason: "quotaExceeded", message: "Calendar usage limits exceeded." });
    let mark = standin.requests.length;
    const e = await backend.sync(null).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GoogleQuotaExceededError);
    expect(apiRequestsSince(mark).map((r) => r.status)).toEqual([403]);
    standin.injectFaults(403, 1, { reason: "rateLimitExceeded", message: "Rate Limit Exceeded" });
    mark = standin.requests.length;
    expect((await backend.sync(null)).full).toBe(true);
    expect(apiRequestsSince(mark).map((r) => r.status)).toEqual([403, 200]);
  });

  it("G6: every calendar of a service account draws on one per-user quota; labhog backs off and gets through", async () => {
    // The first rate-limit wait (at least half of 1 s) outlasts the quota window (500 ms): one retry gets through.
    const a = fresh({ retry: { attempts: 4, rateLimitBaseDelayMs: 1000, rateLimitMaxDelayMs: 1000 } });
    const b = fresh({ retry: { attempts: 4, rateLimitBaseDelayMs: 1000, rateLimitMaxDelayMs: 1000 } });
    standin.perUserQuota = { requests: 3, windowMs: 500 };
    try {
      const mark = standin.requests.length;
      for (let i = 0; i < 3; i++) await a.backend.list({ start: new Date(Date.UTC(2030, 0, 1)), end: new Date(Date.UTC(2030, 0, 2)) });
      // Another calendar, the same service account: its first call is over the quota.
      await b.backend.list({ start: new Date(Date.UTC(2030, 0, 1)), end: new Date(Date.UTC(2030, 0, 2)) });
      const onB = apiRequestsSince(mark).filter((r) => r.path.includes(encodeURIComponent(b.cal.id)));
      expect(onB.map((r) => r.status)).toEqual([403, 200]);
    } finally {
      standin.perUserQuota = undefined;
    }
  });

  it("G6: rate limits wait at least half a step of their own longer ladder; a 503 keeps the short one", () => {
    const p = { ...defaultRetryPolicy };
    const rate = new GoogleRateLimitError("429");
    const busy = new UnavailableError("503");
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(p, rate, n, () => 0))).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
    expect([1, 2, 3].map((n) => backoffMs(p, rate, n, () => 1))).toEqual([1000, 2000, 4000]);
    expect(backoffMs(p, busy, 1, () => 1)).toBe(250);
  });

  it("G8: the first full sync is bounded with timeMin (later ones use the token alone, as events.list requires)", async () => {
    const { cal, backend } = fresh();
    const old = cal.seed({ summary: "long ago", start: { dateTime: "2020-01-01T09:00:00Z" }, end: { dateTime: "2020-01-01T10:00:00Z" } });
    const recent = cal.seed({ summary: "soon", start: { dateTime: new Date(Date.now() + 86_400_000).toISOString() }, end: { dateTime: new Date(Date.now() + 90_000_000).toISOString() } });
    const mark = standin.requests.length;
    const full = await backend.sync(null);
    expect(full.changed.map((o) => o.id)).toEqual([recent.id]);
    const first = apiRequestsSince(mark)[0]!;
    expect(new URLSearchParams(first.query).get("timeMin")).toBe(new Date(Date.parse(new URLSearchParams(first.query).get("timeMin")!)).toISOString());
    expect(Date.now() - Date.parse(new URLSearchParams(first.query).get("timeMin")!)).toBeGreaterThanOrEqual(35 * 86_400_000 - 60_000);
    // The stand-in refuses timeMin with a sync token, like Google: the incremental request carries none.
    const mark2 = standin.requests.length;
    expect((await backend.sync(full.token)).full).toBe(false);
    expect(apiRequestsSince(mark2)[0]!.query).not.toContain("timeMin");
    // Unbounded when asked.
    const all = await backendOn(cal.id, { fullSyncLookbackDays: null }).sync(null);
    expect(all.changed.map((o) => o.id).sort()).toEqual([old.id, recent.id].sort());
  });

  it("G8: a 400 that mentions the sync token is an error to report, not a silent full resync", async () => {
    const { backend } = fresh();
    const t = (await backend.sync(null)).token;
    standin.injectFaults(400, 1, { reason: "invalid", message: "Sync token cannot be used together with timeMin.", method: "GET" });
    const mark = standin.requests.length;
    const e = await backend.sync(t).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect(apiRequestsSince(mark).map((r) => r.status)).toEqual([400]); // no full listing behind its back
  });
});
