import { testEnv } from "./helpers.ts";

/** Talking to the real Radicale directly, as a calendar app would. */
const auth = () => "Basic " + btoa(`${testEnv.TEST_RADICALE_USER}:${testEnv.TEST_RADICALE_PASSWORD}`);

export function collectionUrl(name: string): string {
  return `${testEnv.TEST_RADICALE_URL}${testEnv.TEST_RADICALE_USER}/${name}/`;
}

export async function mkcalendar(name: string): Promise<string> {
  const url = collectionUrl(name);
  // workerd's fetch refuses the MKCALENDAR method; extended MKCOL (RFC 5689) makes the same collection.
  const body = `<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>${name}</d:displayname></d:prop></d:set></d:mkcol>`;
  const r = await fetch(url, { method: "MKCOL", headers: { authorization: auth(), "content-type": "application/xml; charset=utf-8" }, body });
  if (r.status !== 201) throw new Error(`MKCOL ${url}: ${r.status} ${await r.text()}`);
  return url;
}

export async function putEvent(calendarUrl: string, uid: string, ics: string): Promise<Response> {
  return fetch(`${calendarUrl}${uid}.ics`, { method: "PUT", headers: { authorization: auth(), "content-type": "text/calendar; charset=utf-8", "if-none-match": "*" }, body: ics });
}

export async function getEvent(calendarUrl: string, uid: string): Promise<string> {
  const r = await fetch(`${calendarUrl}${uid}.ics`, { headers: { authorization: auth() } });
  if (!r.ok) throw new Error(`GET ${uid}: ${r.status}`);
  return r.text();
}

/** Every event object in the collection (PROPFIND Depth 1, then GET each). */
export async function listEvents(calendarUrl: string): Promise<string[]> {
  const r = await fetch(calendarUrl, { method: "PROPFIND", headers: { authorization: auth(), depth: "1", "content-type": "application/xml" }, body: `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>` });
  const xml = await r.text();
  const hrefs = [...xml.matchAll(/<(?:\w+:)?href>([^<]+\.ics)<\/(?:\w+:)?href>/g)].map((m) => m[1]!);
  const base = new URL(calendarUrl);
  return Promise.all(hrefs.map(async (h) => (await fetch(new URL(h, base), { headers: { authorization: auth() } })).text()));
}

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");

/** An event as Thunderbird or Apple Calendar would write it: no labhog properties. */
export function appEvent(o: { uid: string; start: Date; end: Date; summary: string; organizer: string; created: Date }): string {
  return [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN",
    "BEGIN:VEVENT",
    `UID:${o.uid}`,
    `CREATED:${stamp(o.created)}`,
    `DTSTAMP:${stamp(o.created)}`,
    `DTSTART:${stamp(o.start)}`,
    `DTEND:${stamp(o.end)}`,
    `SUMMARY:${o.summary}`,
    `ORGANIZER;CN=Someone:mailto:${o.organizer}`,
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");
}
