/**
 * Nextcloud's 429s, told apart. Nextcloud can't run
 * here, so the answers are Nextcloud's own, as its DAV server serializes them
 * (apps/dav/lib/Connector/Sabre/Exception/TooManyRequests.php, a
 * NotAuthenticated subclass; CalDAV/Security/RateLimitingPlugin.php throws the
 * same class with "Too many calendars created"), served by a fetch stand-in
 * that also answers discovery. The 401 path is tested on real Radicale
 * (caldav-specifics.ts).
 */
import { afterEach, describe, expect, it } from "vitest";
import { CaldavBackend } from "../../../calendar/backends/caldav/backend.ts";
import { clearCredentialRefusals, isAuthThrottle } from "../../../calendar/backends/caldav/transport.ts";
import { CalendarAuthError, UnavailableError } from "../../../calendar/errors.ts";

const sabreError = (message: string) =>
  `<?xml version="1.0" encoding="utf-8"?>\n<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" xmlns:o="http://owncloud.org/ns">\n  <s:exception>OCA\\DAV\\Connector\\Sabre\\Exception\\TooManyRequests</s:exception>\n  <s:message>${message}</s:message>\n  <o:hint>too many requests</o:hint>\n</d:error>\n`;

const calendarProps = (path: string) =>
  `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:response><d:href>${path}</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>lab</d:displayname><d:supported-report-set><d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report></d:supported-report-set></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`;

/** A Nextcloud-shaped server: answers discovery, then whatever `next` says for every other request. */
function nextcloud(next: () => Response) {
  const path = "/remote.php/dav/calendars/labhog/lab/";
  let requests = 0;
  let connected = false;
  const f: typeof fetch = async (input, init) => {
    requests++;
    if (!connected && init?.method === "PROPFIND") {
      connected = true;
      return new Response(calendarProps(path), { status: 207, headers: { "content-type": "application/xml; charset=utf-8" } });
    }
    return next();
  };
  const origin = `http://nc-${crypto.randomUUID().slice(0, 8)}.test`;
  return { fetch: f, url: origin + path, get requests() { return requests; } };
}

const connect = (nc: ReturnType<typeof nextcloud>) =>
  CaldavBackend.connect({ serverUrl: nc.url, calendar: nc.url, username: "labhog", password: "app-password", fetch: nc.fetch, retry: { attempts: 4, baseDelayMs: 1 } });

afterEach(() => clearCredentialRefusals());

describe("Nextcloud 429s", () => {
  it("the brute-force 429 is CalendarAuthError after exactly one request, and nothing is sent during the cool-down", async () => {
    const nc = nextcloud(() => new Response(sabreError(""), { status: 429, headers: { "content-type": "application/xml; charset=utf-8" } }));
    const b = await connect(nc);
    const before = nc.requests;
    const err = await b.sync(null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CalendarAuthError);
    expect((err as CalendarAuthError).message).toMatch(/calendar credentials refused.*429/);
    expect(nc.requests - before).toBe(1);
    for (let i = 0; i < 3; i++) await expect(b.get("/remote.php/dav/calendars/labhog/lab/x.ics")).rejects.toBeInstanceOf(CalendarAuthError);
    expect(nc.requests - before).toBe(1);
  });

  it("the calendar-creation rate limit (same exception class, 'Too many calendars created') is an ordinary 429: retried, UnavailableError", async () => {
    const nc = nextcloud(() => new Response(sabreError("Too many calendars created"), { status: 429, headers: { "content-type": "application/xml; charset=utf-8" } }));
    const b = await connect(nc);
    const before = nc.requests;
    const err = await b.sync(null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).not.toBeInstanceOf(CalendarAuthError);
    expect(nc.requests - before).toBe(4);
  });

  it("a 429 from a server that refused these credentials before is about them too", async () => {
    let status = 401;
    const nc = nextcloud(() => new Response("", { status, headers: { "retry-after": "3600" } }));
    const b = await CaldavBackend.connect({ serverUrl: nc.url, calendar: nc.url, username: "labhog", password: "app-password", fetch: nc.fetch, authCooldownMs: 0, retry: { attempts: 4, baseDelayMs: 1 } });
    await expect(b.sync(null)).rejects.toBeInstanceOf(CalendarAuthError);
    status = 429;
    const before = nc.requests;
    const err = await b.sync(null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CalendarAuthError);
    // The server's Retry-After (an hour) is longer than the cool-down: it wins.
    expect((err as CalendarAuthError).retryAfter).toBeGreaterThan(3500);
    expect(nc.requests - before).toBe(1);
  });

  it("tells the bodies apart", () => {
    expect(isAuthThrottle(sabreError(""))).toBe(true);
    expect(isAuthThrottle(sabreError("Too many calendars created"))).toBe(false);
    expect(isAuthThrottle("<html>Too Many Requests</html>")).toBe(false);
  });
});
