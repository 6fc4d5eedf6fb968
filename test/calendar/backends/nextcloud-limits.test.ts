/**
 * Nextcloud's calendar-creation limits, as
 * apps/dav/lib/CalDAV/Security/RateLimitingPlugin.php enforces them on a new
 * calendars/<user>/<name>: more than rateLimitCalendarCreation (10) per hour
 * is 429 "Too many calendars created", reaching maximumCalendarsSubscriptions
 * (30) is 403 "Calendar limit reached". A STAND-IN for that plugin sits in
 * front of a real Radicale (which has no such limits) and answers with
 * Sabre's error body; everything else goes to Radicale.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaldavBackend } from "../../../calendar/backends/caldav/backend.ts";
import { CalendarLimitError } from "../../../calendar/backends/caldav/nextcloud-limits.ts";
import { startRadicale, type RadicaleService } from "../../services/radicale.ts";

let radicale: RadicaleService;
beforeAll(async () => { radicale = await startRadicale(); });
afterAll(async () => { await radicale?.stop(); });

const sabreError = (exception: string, message: string) =>
  `<?xml version="1.0" encoding="utf-8"?>\n<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n  <s:exception>${exception}</s:exception>\n  <s:message>${message}</s:message>\n</d:error>\n`;

/** Counts creations like the plugin (per user: per hour, and in total). */
function limitingFetch(o: { perHour: number; maxCalendars: number; existing: number }) {
  const seen = { creations: 0, attempts: 0 };
  const f: typeof fetch = async (input, init) => {
    const method = (init?.method ?? "GET").toUpperCase();
    if (method === "MKCALENDAR" || method === "MKCOL") {
      seen.attempts++;
      if (seen.creations >= o.perHour) return new Response(sabreError("OCA\\DAV\\Connector\\Sabre\\Exception\\TooManyRequests", "Too many calendars created"), { status: 429, headers: { "content-type": "application/xml; charset=utf-8" } });
      if (o.existing + seen.creations >= o.maxCalendars) return new Response(sabreError("Sabre\\DAV\\Exception\\Forbidden", "Calendar limit reached"), { status: 403, headers: { "content-type": "application/xml; charset=utf-8" } });
      seen.creations++;
    }
    return fetch(input, init);
  };
  return { f, seen };
}

const connect = (name: string, f: typeof fetch) =>
  CaldavBackend.connect({ serverUrl: radicale.url, username: radicale.username, password: radicale.password, calendar: `nl-${name}-${crypto.randomUUID().slice(0, 6)}`, createCalendar: true, fetch: f });

describe("Nextcloud calendar-creation limits", () => {
  it("the 11th calendar in an hour: a clear error naming rateLimitCalendarCreation, tried once", async () => {
    const { f, seen } = limitingFetch({ perHour: 10, maxCalendars: 1000, existing: 0 });
    for (let i = 0; i < 10; i++) await connect(`h${i}`, f);
    const before = seen.attempts;
    const e = await connect("h10", f).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CalendarLimitError);
    expect((e as Error).message).toMatch(/Too many calendars created.*rateLimitCalendarCreation/);
    expect((e as CalendarLimitError).detail).toMatchObject({ setting: "rateLimitCalendarCreation", status: 429 });
    expect(seen.attempts - before).toBe(1); // not retried: each try counts against the hour
  });

  it("the user's 30th calendar: a clear error naming maximumCalendarsSubscriptions", async () => {
    const { f } = limitingFetch({ perHour: 1000, maxCalendars: 30, existing: 29 });
    await connect("c29", f);
    const e = await connect("c30", f).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CalendarLimitError);
    expect((e as Error).message).toMatch(/Calendar limit reached.*maximumCalendarsSubscriptions/);
  });
});
