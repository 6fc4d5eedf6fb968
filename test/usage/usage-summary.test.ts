/**
 * The usage labhog writes into calendar events stays small: a busy host's
 * full snapshot would break Google's 1024-character
 * extended properties and Nextcloud's 4,000-character background-job
 * argument, which carries the whole ICS of every calendar write
 * (lib/private/BackgroundJob/JobList.php: `strlen(json_encode($argument)) > 4000`
 * throws, and the write that queued the webhook call fails; nextcloud/server #58912).
 */
import { describe, expect, it } from "vitest";
import { patchEventIcs, reservationToIcs } from "../../calendar/ical/index.ts";
import { compactUsage, MAX_LIVE_LINE_CHARS, MAX_USAGE_SUMMARY_CHARS, summaryLine, type LiveUsage } from "../../worker/usage/live.ts";

/** A host with far more going on than fits in an event. */
function busy(): LiveUsage {
  return {
    at: "2030-01-01T09:00:00.000Z",
    sessions: Array.from({ length: 50 }, (_, i) => ({ user: `user-with-a-long-login-name-${i}`, from: `2001:db8:85a3:1234:5678:8a2e:370:${i.toString(16)}`, activity: i % 3 === 0 ? "active" : "idle" })),
    power: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`pdu-outlet-number-${i}`, "on-and-cycling"])),
    usb: Array.from({ length: 20 }, (_, i) => ({ name: `segger-jlink-ultra-plus-${i}`, present: true, exported: i % 2 === 0, attached: i % 4 === 0 })),
  };
}

/** PHP's json_encode defaults: "/" as "\/", non-ASCII as \uXXXX (what Nextcloud measures). */
function phpJsonLength(v: unknown): number {
  return JSON.stringify(v)
    .replace(/\//g, "\\/")
    .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).length;
}

describe("the usage summary written into events", () => {
  it("is bounded whatever the host reports, and says what it left out", () => {
    const s = compactUsage(busy());
    expect(JSON.stringify(s).length).toBeLessThanOrEqual(MAX_USAGE_SUMMARY_CHARS);
    expect(s.sessions.length).toBeGreaterThan(0);
    expect(s.more).toMatchObject({ sessions: 50 - s.sessions.length, power: 20 - Object.keys(s.power).length, usb: 20 - s.usb.length });
    expect(summaryLine(s)).toMatch(/\+\d+ more sessions/);
    expect(summaryLine(s).length).toBeLessThanOrEqual(MAX_LIVE_LINE_CHARS);
    // A quiet host keeps everything.
    const quiet: LiveUsage = { at: null, sessions: [{ user: "bob", from: "10.0.0.5", activity: "active" }], power: { board: "on" }, usb: [] };
    expect(compactUsage(quiet)).toEqual(quiet);
  });

  it("keeps a mirrored event within Google's 1024-character property and Nextcloud's 4,000-character job", () => {
    const alice = { id: "alice", email: "alice@example.com", unix: ["alice"], sshKeys: [], groups: [], name: "Alice Example" };
    const base = reservationToIcs(
      { uid: "9b1f7c2e-4d0a-4f53-9a55-0c1e2d3f4a5b", holder: alice, start: "2030-01-01T08:00:00.000Z", end: "2030-01-01T12:00:00.000Z", exclusive: true, purpose: "u-boot bring-up on the rk3588 board, with a new DDR training blob" },
      { resource: "rock5b-1", timezone: "Europe/Berlin", users: [alice] },
    );
    const summary = compactUsage(busy());
    const ics = patchEventIcs(base, { usage: summary, liveLine: summaryLine(summary) }, undefined, { timezone: "Europe/Berlin", now: new Date("2030-01-01T09:00:00Z") });
    const usageLine = ics.replace(/\r\n[ \t]/g, "").split("\r\n").find((l) => l.startsWith("X-LABHOG-USAGE"))!;
    expect(usageLine.slice(usageLine.indexOf(":") + 1).length).toBeLessThanOrEqual(1024);
    // The webhook job Nextcloud queues for this write (WebhooksEventListener: [data, listenerId]).
    const job = [
      {
        event: {
          calendarId: 12,
          calendarData: { id: 12, uri: "rock5b-1", principaluri: "principals/users/labhog", "{DAV:}displayname": "rock5b-1", "{http://sabredav.org/ns}sync-token": 4711, "{http://calendarserver.org/ns/}getctag": "http://sabre.io/ns/sync/4711", "{urn:ietf:params:xml:ns:caldav}supported-calendar-component-set": { components: ["VEVENT"] }, "{urn:ietf:params:xml:ns:caldav}schedule-calendar-transp": { value: "opaque" }, "{http://apple.com/ns/ical/}calendar-color": "#0082c9", "{http://owncloud.org/ns}owner-principal": "principals/users/labhog" },
          shares: [],
          objectData: { id: 991, uri: "9b1f7c2e-4d0a-4f53-9a55-0c1e2d3f4a5b.ics", lastmodified: 1893488400, etag: '"0f1e2d3c4b5a69788796a5b4c3d2e1f0"', calendarid: 12, size: ics.length, calendardata: ics, component: "vevent", classification: 0 },
          class: "OCP\\Calendar\\Events\\CalendarObjectUpdatedEvent",
        },
        user: { uid: "labhog", displayName: "labhog" },
        time: 1893488400,
      },
      3,
    ];
    expect(phpJsonLength(job)).toBeLessThanOrEqual(4000);
    // Without the summary (the full snapshot) the same write could not be queued.
    const full = patchEventIcs(base, { usage: busy(), liveLine: summaryLine(summary) }, undefined, { timezone: "Europe/Berlin", now: new Date("2030-01-01T09:00:00Z") });
    expect(phpJsonLength([{ ...job[0] as object, objectData: { calendardata: full } }, 3])).toBeGreaterThan(4000);
  });
});
