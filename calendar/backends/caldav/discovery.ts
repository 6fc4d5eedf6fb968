/**
 * Finding the calendar collection from a server URL (RFC 4791 §7.1, RFC 5397):
 * server → current-user-principal → calendar-home-set → calendars, picked by
 * URL or display name, created when configured to and missing.
 */
import { CalendarAuthError, NotFoundError, LabhogError } from "../../errors.ts";
import { DavTransport } from "./transport.ts";
import type { Budget } from "../deadline.ts";
import { canonicalPath, contains, escapeXml, hrefsIn, hrefOf, prop, text } from "./xml.ts";

export interface CalendarInfo {
  /** Absolute URL of the collection, ending in "/". */
  url: string;
  displayName?: string;
  /** RFC 6578 sync-collection advertised in supported-report-set. */
  syncCollection: boolean;
}

export interface DiscoveryOptions {
  serverUrl: string;
  /** A calendar URL (absolute or a path on the server) or a display name. */
  calendar?: string;
  /** Create the calendar when it is missing (the name becomes the path segment). */
  create?: boolean;
  /** The whole discovery shares one budget (CalendarBackend calls are bounded, connecting too). */
  budget?: Budget;
}

const NS = `xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"`;

async function propfind(t: DavTransport, url: string, props: string, depth: "0" | "1", budget?: Budget) {
  const reply = await t.dav("PROPFIND", url, `<?xml version="1.0" encoding="utf-8"?><d:propfind ${NS}><d:prop>${props}</d:prop></d:propfind>`, depth, budget);
  if (reply.status >= 300) throw DavTransport.fail(reply, `PROPFIND ${new URL(url).pathname}`);
  return reply.responses;
}

async function firstHref(t: DavTransport, url: string, propXml: string, name: string, budget?: Budget): Promise<string | undefined> {
  const rs = await propfind(t, url, propXml, "0", budget);
  for (const r of rs) {
    const h = hrefsIn(prop(r, name))[0];
    if (h) return new URL(h, url).href;
  }
  return undefined;
}

export async function calendarsOf(t: DavTransport, homeUrl: string, budget?: Budget): Promise<CalendarInfo[]> {
  const rs = await propfind(t, homeUrl, "<d:resourcetype/><d:displayname/><d:supported-report-set/>", "1", budget);
  const out: CalendarInfo[] = [];
  for (const r of rs) {
    if (!contains(prop(r, "resourcetype"), "calendar")) continue;
    const href = hrefOf(r);
    if (!href) continue;
    const url = new URL(href, homeUrl).href;
    out.push({ url: url.endsWith("/") ? url : url + "/", displayName: text(prop(r, "displayname")), syncCollection: contains(prop(r, "supportedReportSet"), "syncCollection") });
  }
  return out;
}

export async function calendarInfo(t: DavTransport, url: string, budget?: Budget): Promise<CalendarInfo | undefined> {
  const reply = await t.dav("PROPFIND", url, `<?xml version="1.0" encoding="utf-8"?><d:propfind ${NS}><d:prop><d:resourcetype/><d:displayname/><d:supported-report-set/></d:prop></d:propfind>`, "0", budget);
  if (reply.status === 404) return undefined;
  if (reply.status >= 300) throw DavTransport.fail(reply, `PROPFIND ${new URL(url).pathname}`);
  const r = reply.responses[0];
  if (!r || !contains(prop(r, "resourcetype"), "calendar")) return undefined;
  return { url, displayName: text(prop(r, "displayname")), syncCollection: contains(prop(r, "supportedReportSet"), "syncCollection") };
}

/**
 * Creates a calendar collection. MKCALENDAR is the CalDAV way, but workerd's
 * fetch refuses that method ("Invalid HTTP method string", workerd#6877), so
 * we fall back to extended MKCOL (RFC 5689), which Radicale and Xandikos take.
 */
export async function makeCalendar(t: DavTransport, url: string, displayName: string, budget?: Budget): Promise<void> {
  const set = `<d:set><d:prop><d:displayname>${escapeXml(displayName)}</d:displayname></d:prop></d:set>`;
  try {
    const r = await t.raw("MKCALENDAR", url, { headers: { "Content-Type": "application/xml; charset=utf-8" }, body: `<?xml version="1.0" encoding="utf-8"?><c:mkcalendar ${NS}>${set}</c:mkcalendar>`, budget });
    if (r.status === 201 || r.status === 200) return;
    // A retried MKCALENDAR whose first attempt landed (its answer lost or too
    // slow) gets 405, or 207 from Xandikos: fine if the calendar is there now.
    if (r.status !== 400 && r.status !== 501 && (await calendarInfo(t, url, budget))) return;
    if (r.status !== 405 && r.status !== 501 && r.status !== 400) throw DavTransport.fail(r, `MKCALENDAR ${new URL(url).pathname}`);
  } catch (e) {
    if (!(e instanceof TypeError) || !/method/i.test(e.message)) throw e;
    t.log({ level: "debug", msg: "MKCALENDAR not sendable here; using extended MKCOL", error: e.message });
  }
  const body = `<?xml version="1.0" encoding="utf-8"?><d:mkcol ${NS}><d:set><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>${escapeXml(displayName)}</d:displayname></d:prop></d:set></d:mkcol>`;
  const r = await t.raw("MKCOL", url, { headers: { "Content-Type": "application/xml; charset=utf-8" }, body, budget });
  if (r.status === 201 || r.status === 200) return;
  // A retried MKCOL whose first attempt landed gets 405: fine if the calendar is there now.
  if (await calendarInfo(t, url, budget)) return;
  throw DavTransport.fail(r, `MKCOL ${new URL(url).pathname}`);
}

function looksLikeUrl(s: string): boolean {
  return /^https?:\/\//i.test(s) || s.startsWith("/");
}

function slug(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "");
  return s || "calendar";
}

export async function discoverCalendar(t: DavTransport, opts: DiscoveryOptions): Promise<CalendarInfo> {
  const server = new URL(opts.serverUrl).href;
  // A calendar given by URL needs no discovery unless it must be created.
  if (opts.calendar && looksLikeUrl(opts.calendar)) {
    let url = new URL(opts.calendar, server).href;
    if (!url.endsWith("/")) url += "/";
    const info = await calendarInfo(t, url, opts.budget);
    if (info) return info;
    if (!opts.create) throw new NotFoundError(`no calendar collection at ${url}`, { url });
    await makeCalendar(t, url, decodeURIComponent(canonicalPath(url, server).split("/").filter(Boolean).at(-1) ?? "calendar"), opts.budget);
    const made = await calendarInfo(t, url, opts.budget);
    if (!made) throw new LabhogError("upstream-error", 502, `created ${url} but it is not a calendar`);
    return made;
  }
  let principal = await firstHref(t, server, "<d:current-user-principal/>", "currentUserPrincipal", opts.budget);
  if (!principal) {
    // RFC 6764: /.well-known/caldav redirects to the context path.
    principal = await firstHref(t, new URL("/.well-known/caldav", server).href, "<d:current-user-principal/>", "currentUserPrincipal", opts.budget).catch((e: unknown) => {
      // Only "no such thing there" is a reason to give up on the fallback quietly.
      if (e instanceof CalendarAuthError || opts.budget?.signal.aborted) throw e;
      return undefined;
    });
  }
  if (!principal) throw new NotFoundError(`${server} names no current-user-principal (wrong URL or not authenticated?)`);
  const home = await firstHref(t, principal, "<c:calendar-home-set/>", "calendarHomeSet", opts.budget);
  if (!home) throw new NotFoundError(`principal ${principal} has no calendar-home-set`);
  const homeUrl = home.endsWith("/") ? home : home + "/";
  const calendars = await calendarsOf(t, homeUrl, opts.budget);
  if (!opts.calendar) {
    const first = calendars[0];
    if (first) return first;
    if (!opts.create) throw new NotFoundError(`no calendars under ${homeUrl}`);
  } else {
    const byName = calendars.find((c) => c.displayName === opts.calendar) ?? calendars.find((c) => canonicalPath(c.url, server).split("/").filter(Boolean).at(-1) === encodeURIComponent(slug(opts.calendar!)));
    if (byName) return byName;
    if (!opts.create) throw new NotFoundError(`no calendar named ${JSON.stringify(opts.calendar)} under ${homeUrl}`, { available: calendars.map((c) => c.displayName ?? c.url) });
  }
  const name = opts.calendar ?? "labhog";
  const url = new URL(encodeURIComponent(slug(name)) + "/", homeUrl).href;
  await makeCalendar(t, url, name, opts.budget);
  const made = await calendarInfo(t, url, opts.budget);
  if (!made) throw new LabhogError("upstream-error", 502, `created ${url} but it is not a calendar`);
  return made;
}
