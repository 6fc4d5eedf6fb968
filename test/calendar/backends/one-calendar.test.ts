/**
 * Several resources in one calendar (Nextcloud's 10-per-hour /
 * 30-per-user calendar limits): each resource's ledger sees a view of the one
 * calendar holding its own events, by X-LABHOG-RESOURCE or LOCATION. Real
 * Radicale; the view passes the same backend contract as a calendar of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaldavBackend } from "../../../calendar/backends/caldav/backend.ts";
import { OneCalendarView } from "../../../calendar/backends/one-calendar.ts";
import { ValidationError } from "../../../calendar/errors.ts";
import { startRadicale, type RadicaleService } from "../../services/radicale.ts";
import { backendContract } from "../contract/backend-contract.ts";

let radicale: RadicaleService;
beforeAll(async () => { radicale = await startRadicale(); });
afterAll(async () => { await radicale?.stop(); });

const auth = () => "Basic " + btoa(`${radicale.username}:${radicale.password}`);

/** One calendar, and a view of it per resource (each with its own connection, as each ledger has). */
async function shared(resources: Array<{ id: string; name?: string }>) {
  const name = `one-${crypto.randomUUID().slice(0, 8)}`;
  const first = await CaldavBackend.connect({ serverUrl: radicale.url, username: radicale.username, password: radicale.password, calendar: name, createCalendar: true });
  const views = await Promise.all(
    resources.map(async (r) => new OneCalendarView(await CaldavBackend.connect({ serverUrl: radicale.url, username: radicale.username, password: radicale.password, calendar: first.info.url }), r)),
  );
  return { raw: first, views, cleanup: async () => { await (await fetch(first.info.url, { method: "DELETE", headers: { Authorization: auth() } })).arrayBuffer(); } };
}

const vevent = (uid: string, lines: string[]) =>
  ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT", `UID:${uid}`, "DTSTAMP:20260101T000000Z", "DTSTART:20300110T090000Z", "DTEND:20300110T100000Z", ...lines, "END:VEVENT", "END:VCALENDAR", ""].join("\r\n");

backendContract("one calendar, viewed for one resource (Radicale)", async () => {
  const s = await shared([{ id: "board-a", name: "Board A" }]);
  return { backend: s.views[0]!, cleanup: s.cleanup };
});

describe("several resources in one calendar", () => {
  it("each view holds its resource's events: labhog's by X-LABHOG-RESOURCE, people's by LOCATION; moving an event moves it between views", async () => {
    const s = await shared([{ id: "board-a", name: "Board A" }, { id: "board-b", name: "Board B" }]);
    try {
      const [a, b] = s.views as [OneCalendarView, OneCalendarView];
      const ta = (await a.sync(null)).token;
      const tb = (await b.sync(null)).token;
      // labhog books board-a: tagged, and given a LOCATION people see.
      const booked = await a.create("booked@labhog.test", vevent("booked@labhog.test", ["SUMMARY:alice: flashing"]));
      expect(booked.ics).toContain("X-LABHOG-RESOURCE:board-a");
      expect(booked.ics).toContain("LOCATION:Board A");
      // A person books board B in their calendar app, naming it in the location.
      const app = await s.raw.create("app@example.org", vevent("app@example.org", ["SUMMARY:bob's camera tests", "LOCATION: board b "]));
      const window = { start: new Date(Date.UTC(2030, 0, 1)), end: new Date(Date.UTC(2030, 1, 1)) };
      expect((await a.list(window)).map((o) => o.id)).toEqual([booked.id]);
      expect((await b.list(window)).map((o) => o.id)).toEqual([app.id]);
      const ia = await a.sync(ta);
      expect(ia.changed.map((o) => o.id)).toEqual([booked.id]);
      expect(ia.deleted).toEqual([app.id]); // not board-a's: a deletion the ledger ignores
      const ib = await b.sync(tb);
      expect(ib.changed.map((o) => o.id)).toEqual([app.id]);
      // bob moves his booking to board A: it leaves B's view and enters A's.
      await s.raw.update(app.id, vevent("app@example.org", ["SUMMARY:bob's camera tests", "LOCATION:board-a"]), app.etag);
      const ia2 = await a.sync(ia.token);
      const ib2 = await b.sync(ib.token);
      expect(ia2.changed.map((o) => o.id)).toEqual([app.id]);
      expect(ib2.deleted).toContain(app.id);
      expect(ib2.changed).toEqual([]);
      // A view won't write an event that names another resource.
      await expect(b.create("x@labhog.test", vevent("x@labhog.test", ["X-LABHOG-RESOURCE:board-a"]))).rejects.toBeInstanceOf(ValidationError);
      // An event naming no resource is in no view.
      const none = await s.raw.create("none@example.org", vevent("none@example.org", ["SUMMARY:team lunch"]));
      expect((await a.list(window)).map((o) => o.id)).not.toContain(none.id);
      expect((await b.list(window)).map((o) => o.id)).not.toContain(none.id);
    } finally {
      await s.cleanup();
    }
  });
});
