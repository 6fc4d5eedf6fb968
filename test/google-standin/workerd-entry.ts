/**
 * A scratch Worker that drives the google backend from INSIDE workerd against
 * the Google Calendar STAND-IN (whose address the Node test posts in). It
 * shows that calendar/backends/google — @googleapis/calendar, jose, ical.js —
 * loads and works in the Workers runtime, not only in Node.
 */
import { createGoogleBackend } from "../../calendar/backends/google/index.ts";
import { LabhogError } from "../../calendar/errors.ts";

interface Job {
  apiRoot: string;
  tokenUrl: string;
  calendarId: string;
  credentials: string;
}

const vevent = (uid: string, summary: string, extra: string[] = []) =>
  [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//labhog//workerd check//EN",
    "BEGIN:VEVENT",
    `UID:${uid}`,
    "DTSTAMP:20260101T000000Z",
    "DTSTART;TZID=Europe/Berlin:20300325T100000",
    "DTEND;TZID=Europe/Berlin:20300325T110000",
    `SUMMARY:${summary}`,
    "X-LABHOG-HOLDER:alice",
    ...extra,
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");

export default {
  async fetch(req: Request): Promise<Response> {
    const job = (await req.json()) as Job;
    const steps: Record<string, unknown> = { runtime: typeof navigator !== "undefined" ? navigator.userAgent : "unknown" };
    try {
      const b = createGoogleBackend({ ...job, retry: { baseDelayMs: 10 } });
      const created = await b.create("workerd@labhog.test", vevent("workerd@labhog.test", "from workerd", ["RRULE:FREQ=DAILY;COUNT=3"]));
      steps.created = created.id;
      steps.getIcs = (await b.get(created.id)).ics;
      const full = await b.sync(null);
      steps.fullCount = full.changed.length;
      const updated = await b.update(created.id, vevent("workerd@labhog.test", "updated in workerd", ["RRULE:FREQ=DAILY;COUNT=3"]), created.etag);
      const inc = await b.sync(full.token);
      steps.incremental = { full: inc.full, changed: inc.changed.map((o) => o.id), summaryChanged: inc.changed[0]?.ics.includes("updated in workerd") };
      try {
        await b.update(created.id, vevent("workerd@labhog.test", "stale"), created.etag);
        steps.stale = "accepted";
      } catch (e) {
        steps.stale = (e as Error).name;
      }
      const listed = await b.list({ start: new Date(Date.UTC(2030, 2, 26)), end: new Date(Date.UTC(2030, 2, 27)) });
      steps.listed = listed.map((o) => o.id);
      await b.delete(created.id, updated.etag);
      try {
        await b.get(created.id);
        steps.afterDelete = "still there";
      } catch (e) {
        steps.afterDelete = (e as Error).name;
      }
      return Response.json({ ok: true, steps });
    } catch (e) {
      return Response.json({ ok: false, steps, error: e instanceof LabhogError ? `${e.name}: ${e.message}` : String((e as Error)?.stack ?? e) });
    }
  },
};
