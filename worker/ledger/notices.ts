import ICAL from "ical.js";
import { LABHOG_PROPERTIES, PRODID } from "../../calendar/ical/index.ts";
import type { Notice } from "../notices/model.ts";
import { NOTICES_PER_RESOURCE } from "../notices/model.ts";
import { ValidationError } from "../../calendar/errors.ts";
import type { LedgerCore } from "./core.ts";

/**
 * Notices of one resource, kept in the ledger's storage (`notice:<id>`), so
 * they survive restarts and travel with the resource's signed schedule.
 * Each one is also a TRANSPARENT event on the resource's calendar, marked
 * X-LABHOG-KIND:notice, which calendar apps show and the mapping never
 * reads as a reservation (calendar/ical/read.ts). The ledger stays the only
 * writer of its calendar, which is why notices live here and not in a
 * Durable Object of their own.
 */

const KEY = "notice:";

export interface StoredNotice extends Notice {
  /** The calendar object of its event, when the calendar took it. */
  eventId?: string;
}

/** The calendar event: from now (or its creation) until it ends; transparent, so it blocks nothing. */
export function noticeIcs(uid: string, n: Notice, resource: string): string {
  const cal = new ICAL.Component(["vcalendar", [], []]);
  cal.addPropertyWithValue("prodid", PRODID);
  cal.addPropertyWithValue("version", "2.0");
  const ev = new ICAL.Component("vevent", cal);
  cal.addSubcomponent(ev);
  const t = (iso: string) => ICAL.Time.fromJSDate(new Date(iso), true);
  ev.addPropertyWithValue("uid", uid);
  ev.addPropertyWithValue("dtstamp", t(n.createdAt));
  ev.addPropertyWithValue("dtstart", t(n.createdAt));
  ev.addPropertyWithValue("dtend", t(n.until));
  ev.addPropertyWithValue("summary", `Notice: ${n.text}`);
  ev.addPropertyWithValue("description", `${n.text}\n\n— ${n.by}, for ${resource} (labhog notice ${n.id})`);
  ev.addPropertyWithValue("transp", "TRANSPARENT");
  ev.addPropertyWithValue("class", "PUBLIC");
  ev.addPropertyWithValue(LABHOG_PROPERTIES.kind, "notice");
  return cal.toString() + "\r\n";
}

/** UIDs name the resource too: resources sharing one calendar (oneCalendar) each get their own event. */
const uidOf = (n: Notice, resource: string) => `labhog-notice-${n.id}-${resource}`;

/** Standing notices (ended ones are dropped from storage on the way). */
export async function standingNotices(core: Pick<LedgerCore, "storage">, now = Date.now()): Promise<StoredNotice[]> {
  const out: StoredNotice[] = [];
  const ended: string[] = [];
  for (const [k, n] of await core.storage.list<StoredNotice>({ prefix: KEY })) {
    if (Date.parse(n.until) <= now) ended.push(k);
    else out.push(n);
  }
  // Their calendar events stay: they ended at `until` and are the record of what was said.
  if (ended.length) await core.storage.delete(ended);
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

/** What leaves the ledger: no calendar object ids. */
export const publicNotice = ({ eventId: _e, ...n }: StoredNotice): Notice => n;

/** Writes the calendar event first (a calendar that can't be reached fails the call, like a booking), then stores it and republishes. */
export async function addNotice(core: LedgerCore, n: Notice): Promise<Notice> {
  if ((await standingNotices(core)).length >= NOTICES_PER_RESOURCE) throw new ValidationError(`${core.resource} already has ${NOTICES_PER_RESOURCE} notices: delete one first`, { resource: core.resource });
  const uid = uidOf(n, core.resource);
  const obj = await core.calendar("notice", (cal, signal) => cal.create(uid, noticeIcs(uid, n, core.resource), { signal }));
  await core.store(obj);
  const stored: StoredNotice = { ...n, eventId: obj.id };
  await core.storage.put(KEY + n.id, stored);
  core.changed();
  return publicNotice(stored);
}

/** Deletes the notice and its calendar event; false when this resource has no such notice. */
export async function deleteNotice(core: LedgerCore, id: string): Promise<boolean> {
  const n = await core.storage.get<StoredNotice>(KEY + id);
  if (!n) return false;
  if (n.eventId) {
    const eventId = n.eventId;
    await core.calendar("notice delete", async (cal, signal) => {
      try {
        await cal.delete(eventId, undefined, { signal });
      } catch (e) {
        // Already gone (someone deleted it in their calendar app): nothing left to do.
        if (!(e instanceof Error && "status" in e && (e as { status: number }).status === 404)) throw e;
      }
    });
    await core.forget(eventId);
  }
  await core.storage.delete(KEY + id);
  core.changed();
  return true;
}
