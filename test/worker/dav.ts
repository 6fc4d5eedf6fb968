import { testEnv } from "./helpers.ts";

/**
 * The two real CalDAV servers of the workerd tests, spoken to directly as a
 * calendar app would: Radicale (with a password) and Xandikos (without).
 */
export interface DavServer {
  name: "radicale" | "xandikos";
  /** Creates a calendar collection; returns its URL. */
  mkcalendar(name: string): Promise<string>;
  /** The lab file's calendar entry for a collection. */
  calendarYaml(collectionUrl: string): string;
  put(collectionUrl: string, uid: string, ics: string): Promise<Response>;
  get(collectionUrl: string, uid: string): Promise<string>;
}

function server(name: DavServer["name"], base: string, home: string, auth: string | undefined, yamlAuth: string): DavServer {
  const h = (extra: Record<string, string> = {}): Record<string, string> => ({ ...(auth ? { authorization: auth } : {}), ...extra });
  return {
    name,
    async mkcalendar(cal) {
      const url = `${base}${home}${cal}/`;
      // workerd's fetch refuses the MKCALENDAR method; extended MKCOL (RFC 5689) makes the same collection.
      const body = `<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>${cal}</d:displayname></d:prop></d:set></d:mkcol>`;
      const r = await fetch(url, { method: "MKCOL", headers: h({ "content-type": "application/xml; charset=utf-8" }), body });
      if (r.status !== 201) throw new Error(`MKCOL ${url}: ${r.status} ${await r.text()}`);
      return url;
    },
    calendarYaml: (url) => `{ backend: caldav, url: "${base}", calendar: "${url}"${yamlAuth} }`,
    put: (url, uid, ics) => fetch(`${url}${uid}.ics`, { method: "PUT", headers: h({ "content-type": "text/calendar; charset=utf-8", "if-none-match": "*" }), body: ics }),
    async get(url, uid) {
      const r = await fetch(`${url}${uid}.ics`, { headers: h() });
      if (!r.ok) throw new Error(`GET ${uid}: ${r.status}`);
      return r.text();
    },
  };
}

export function davServers(): DavServer[] {
  return [
    server("radicale", testEnv.TEST_RADICALE_URL!, `${testEnv.TEST_RADICALE_USER}/`, "Basic " + btoa(`${testEnv.TEST_RADICALE_USER}:${testEnv.TEST_RADICALE_PASSWORD}`), `, username: ${testEnv.TEST_RADICALE_USER}, passwordSecret: RADICALE_PASSWORD`),
    server("xandikos", testEnv.TEST_XANDIKOS_URL!, "user/calendars/", undefined, ""),
  ];
}

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");

/** An event as a calendar app writes it (no labhog properties); `rrule` makes a series. */
export function appIcs(o: { uid: string; start: Date; end: Date; summary: string; organizer: string; created: Date; rrule?: string }): string {
  return [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Apple Inc.//macOS 14.0//EN",
    "BEGIN:VEVENT",
    `UID:${o.uid}`,
    `CREATED:${stamp(o.created)}`,
    `DTSTAMP:${stamp(o.created)}`,
    `LAST-MODIFIED:${stamp(o.created)}`,
    `DTSTART:${stamp(o.start)}`,
    `DTEND:${stamp(o.end)}`,
    ...(o.rrule ? [`RRULE:${o.rrule}`] : []),
    `SUMMARY:${o.summary}`,
    `ORGANIZER;CN=Someone:mailto:${o.organizer}`,
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");
}
