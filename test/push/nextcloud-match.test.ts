/**
 * Matching a Nextcloud webhook_listeners call to labhog resources. The
 * payloads follow Nextcloud's source (server ≥ 32):
 * apps/webhook_listeners/lib/Listener/WebhooksEventListener.php queues
 * `{event: {...getWebhookSerializable(), class}, user, time}`;
 * lib/public/Calendar/Events/AbstractCalendarObjectEvent.php serializes
 * `{calendarId, calendarData, shares, objectData}`, CalendarObjectMovedEvent
 * `{sourceCalendarId, sourceCalendarData, targetCalendarId, targetCalendarData,
 * sourceShares, targetShares, objectData}`. calendarData is the calendar's row
 * (its owner's principaluri and uri, also for a calendar shared with others).
 */
import { describe, expect, it } from "vitest";
import { parseLabConfig } from "../../calendar/config/lab-config.ts";
import { calendarOfUrl, calendarSlug, expectedCalendars, resourcesFor } from "../../worker/push/nextcloud.ts";

const NC = "https://cloud.example.org";
const lab = parseLabConfig(`
site: t
calendars:
  nc: { backend: caldav, url: "${NC}/remote.php/dav", username: "labhog@example.org", passwordSecret: NC_PASSWORD }
  byurl: { backend: caldav, url: "${NC}/remote.php/dav", calendar: "${NC}/remote.php/dav/calendars/5f1c-ldap-uid/rock-5b/", username: "labhog@example.org", passwordSecret: NC_PASSWORD }
  sharedin: { backend: caldav, url: "${NC}/remote.php/dav", calendar: "/remote.php/dav/calendars/5f1c-ldap-uid/jetson_shared_by_alice/", passwordSecret: NC_PASSWORD }
  byname: { backend: caldav, url: "${NC}/remote.php/dav", calendar: "Oscilloscope (bench 3)", passwordSecret: NC_PASSWORD }
  lab: { backend: caldav, url: "${NC}/remote.php/dav", oneCalendar: true, passwordSecret: NC_PASSWORD }
resources:
  Board.1: { calendar: nc }
  board2: { calendar: nc }
  rock: { calendar: byurl }
  jetson: { calendar: sharedin }
  scope: { calendar: byname }
  bench1: { calendar: lab }
  bench2: { calendar: lab }
`);

/** A CalendarObject*Event as the webhook job posts it. */
function call(cls: string, cal: { uri: string; principaluri: string; displayname?: string }, shares: string[] = []) {
  return {
    event: {
      calendarId: 42,
      calendarData: {
        id: 42,
        uri: cal.uri,
        principaluri: cal.principaluri,
        "{DAV:}displayname": cal.displayname ?? cal.uri,
        "{http://sabredav.org/ns}sync-token": 17,
        "{http://calendarserver.org/ns/}getctag": "http://sabre.io/ns/sync/17",
        "{urn:ietf:params:xml:ns:caldav}supported-calendar-component-set": {},
      },
      shares: shares.map((p) => ({ href: `principal:${p}`, commonName: "", status: 1, readOnly: false, "{http://owncloud.org/ns}principal": p, "{http://owncloud.org/ns}group-share": false })),
      objectData: { id: 7, uri: "abc.ics", lastmodified: 1764500000, etag: '"e1"', calendarid: 42, size: 420, calendardata: "BEGIN:VCALENDAR…", component: "vevent", classification: 0 },
      class: `OCP\\Calendar\\Events\\${cls}`,
    },
    user: { uid: "5f1c-ldap-uid", displayName: "Lab bot" },
    time: 1764500000,
  };
}

describe("nextcloud push → resource", () => {
  it("a calendar labhog created is found under its slug (lower-cased) (login ≠ uid: the principal names the uid)", () => {
    expect(calendarSlug("Board.1")).toBe("board.1");
    expect(resourcesFor(lab, call("CalendarObjectCreatedEvent", { uri: "board.1", principaluri: "principals/users/5f1c-ldap-uid" }))).toEqual(["Board.1"]);
    expect(resourcesFor(lab, call("CalendarObjectUpdatedEvent", { uri: "board2", principaluri: "principals/users/5f1c-ldap-uid" }))).toEqual(["board2"]);
  });

  it("a calendar given by URL matches its owner's principal and uri only", () => {
    expect(calendarOfUrl(`${NC}/remote.php/dav/calendars/5f1c-ldap-uid/rock-5b/`)).toEqual({ principal: "principals/users/5f1c-ldap-uid", uri: "rock-5b" });
    expect(resourcesFor(lab, call("CalendarObjectCreatedEvent", { uri: "rock-5b", principaluri: "principals/users/5f1c-ldap-uid" }))).toEqual(["rock"]);
    expect(resourcesFor(lab, call("CalendarObjectCreatedEvent", { uri: "rock-5b", principaluri: "principals/users/mallory" }))).toEqual([]);
  });

  it("a shared-in calendar (…_shared_by_alice) is announced as alice's calendar, shared with labhog", () => {
    expect(calendarOfUrl("/remote.php/dav/calendars/5f1c-ldap-uid/jetson_shared_by_alice/")).toEqual({ principal: "principals/users/alice", uri: "jetson" });
    expect(resourcesFor(lab, call("CalendarObjectUpdatedEvent", { uri: "jetson", principaluri: "principals/users/alice" }, ["principals/users/5f1c-ldap-uid"]))).toEqual(["jetson"]);
    expect(resourcesFor(lab, call("CalendarObjectUpdatedEvent", { uri: "jetson", principaluri: "principals/users/bob" }))).toEqual([]);
  });

  it("a calendar found by display name matches on the name whatever its uri", () => {
    const p = call("CalendarObjectDeletedEvent", { uri: "5B1F0A2C-8D1E-4C83-9A5E-3E0F6B4C2D11", principaluri: "principals/users/carol", displayname: "Oscilloscope (bench 3)" });
    expect(resourcesFor(lab, p)).toEqual(["scope"]);
  });

  it("a move names both calendars; an unrelated calendar matches nothing and the expectation can be logged", () => {
    const moved = call("CalendarObjectMovedEvent", { uri: "x", principaluri: "principals/users/5f1c-ldap-uid" });
    const { calendarId: _c, calendarData, shares: _s, ...rest } = moved.event;
    const payload = { ...moved, event: { ...rest, sourceCalendarId: 1, sourceCalendarData: { ...calendarData, uri: "board2" }, targetCalendarId: 2, targetCalendarData: { ...calendarData, uri: "board.1" }, sourceShares: [], targetShares: [] } };
    expect(resourcesFor(lab, payload).sort()).toEqual(["Board.1", "board2"]);
    expect(resourcesFor(lab, call("CalendarObjectCreatedEvent", { uri: "personal", principaluri: "principals/users/dave" }))).toEqual([]);
    expect(expectedCalendars(lab).find((e) => e.resource === "rock")).toEqual({ resource: "rock", uris: ["rock-5b"], principal: "principals/users/5f1c-ldap-uid" });
  });

  it("one calendar for several resources (oneCalendar): a push for it syncs each of them", () => {
    expect(resourcesFor(lab, call("CalendarObjectUpdatedEvent", { uri: "lab", principaluri: "principals/users/5f1c-ldap-uid" })).sort()).toEqual(["bench1", "bench2"]);
  });
});
