import { beforeAll, describe, expect, it } from "vitest";
import type { JWK } from "jose";
import { verifySchedule } from "../../calendar/schedule/schedule.ts";
import { channelToken } from "../../worker/push/secrets.ts";
import { api, configure, testEnv } from "./helpers.ts";
import { call } from "./issue5-app.ts";
import { retainedMatching } from "./mqtt-tap.ts";
import { appEvent, mkcalendar, putEvent } from "./radicale.ts";

/**
 * Push makes a calendar change visible at once. Periodic sync is switched
 * off (syncInterval 1d): after the ledger's first sync, only a push can
 * bring in an event written straight into Radicale. The Nextcloud call is
 * made by the test in the shape webhook_listeners sends (a stand-in for
 * Nextcloud); Radicale is real.
 */
const SITE = `p${crypto.randomUUID().slice(0, 6)}`;
const SECRET = "nextcloud-shared-secret-0123456789";
const GSECRET = "google-channel-secret-0123456789";
let calUrl = "";
let calName = "";
let publicJwk: JWK;

beforeAll(async () => {
  calName = `${SITE}-pushy`;
  calUrl = await mkcalendar(calName);
  ({ publicJwk } = await configure(
    { RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD, NEXTCLOUD_WEBHOOK_SECRET: SECRET, GOOGLE_PUSH_SECRET: GSECRET },
    {
      site: SITE,
      calendars: `  default: { backend: memory }
  pushy: { backend: caldav, url: "${testEnv.TEST_RADICALE_URL}", calendar: "${calUrl}", username: ${testEnv.TEST_RADICALE_USER}, passwordSecret: RADICALE_PASSWORD }`,
      resources: "  pushy: { kind: host, agent: host1 }\n  other: { kind: host }",
      syncInterval: "1d",
    },
  ));
  // The ledger's first sync happens when it is first addressed; after that only a push syncs.
  await api("GET", "/api/v1/resources/pushy");
  await new Promise((r) => setTimeout(r, 1500));
});

const nextcloudCall = (cls: string, uri: string) => ({
  user: { uid: testEnv.TEST_RADICALE_USER, displayName: "Lab" },
  time: Math.floor(Date.now() / 1000),
  event: {
    class: `OCP\\Calendar\\Events\\${cls}`,
    calendarId: 7,
    calendarData: { id: 7, uri, principaluri: `principals/users/${testEnv.TEST_RADICALE_USER}`, "{http://sabredav.org/ns}sync-token": 12 },
    shares: [],
    objectData: { id: 99, uri: "x.ics", lastmodified: Math.floor(Date.now() / 1000), etag: '"abc"', calendarid: 7, size: 300, component: "vevent", classification: 0 },
  },
});

/** The push answers before it syncs (waitUntil): poll the API until `check` holds (the test's timeout bounds it). */
async function eventually<T>(read: () => Promise<T>, check: (v: T) => boolean): Promise<T> {
  for (;;) {
    const v = await read();
    if (check(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function inApi(uid: string) {
  const r = await api("GET", "/api/v1/reservations?resource=pushy");
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  return r.body.reservations.find((x: any) => x.uid === uid);
}

let slot = 0;
async function newAppEvent(summary: string): Promise<string> {
  const uid = `push-${crypto.randomUUID()}`;
  const start = new Date(Date.now() + (2 * slot++ + 1) * 3_600_000);
  const put = await putEvent(calUrl, uid, appEvent({ uid, start, end: new Date(start.getTime() + 3_600_000), summary, organizer: "bob@example.com", created: new Date() }));
  expect(put.status).toBe(201);
  return uid;
}

describe("Nextcloud webhook_listeners push", () => {
  it("unverified calls are refused with problem JSON and sync nothing", async () => {
    const uid = await newAppEvent("made while strangers knock");
    const body = JSON.stringify(nextcloudCall("CalendarObjectCreatedEvent", calName));
    for (const authorization of [undefined, "Bearer wrong-secret-0000000000", `Basic ${btoa(`x:${SECRET}`)}`, `Bearer ${SECRET}x`]) {
      const r = await call("/push/nextcloud", { method: "POST", headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) }, body });
      expect(r.status).toBe(401);
      expect(r.headers.get("content-type")).toContain("application/problem+json");
      expect(await r.text()).not.toContain("pushy");
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect(await inApi(uid)).toBeUndefined();
    // With the right secret the same event comes in (and this test's event is cleaned up by the next one's sync).
    const ok = await call("/push/nextcloud", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${SECRET}` }, body });
    expect(ok.status).toBe(202);
    expect(await eventually(() => inApi(uid), (r) => r !== undefined)).toBeDefined();
  });

  it("a verified push is answered at once (202) and makes an app-made event visible in the API and the retained schedule", async () => {
    const uid = await newAppEvent("bob's push-synced session");
    await new Promise((r) => setTimeout(r, 500));
    expect(await inApi(uid)).toBeUndefined(); // periodic sync is off: nothing else brings it in
    const r = await call("/push/nextcloud", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${SECRET}` }, body: JSON.stringify(nextcloudCall("CalendarObjectCreatedEvent", calName)) });
    expect(r.status).toBe(202);
    expect(await r.json()).toEqual({ event: "CalendarObjectCreatedEvent", syncing: ["pushy"] }); // answered before the sync (waitUntil)
    expect(await eventually(() => inApi(uid), (x) => x !== undefined)).toMatchObject({ holder: { id: "bob" }, source: "calendar", state: "upcoming" });
    const m = await retainedMatching(`test/${SITE}/resources/pushy/schedule`, async (p) => (await verifySchedule(p, { keys: { [publicJwk.kid!]: publicJwk }, resources: ["pushy"] })).entries.some((e) => e.id === uid), 30_000);
    expect(m.retained).toBe(true);
  });

  it("moved-to-trash and deleted events sync too; other classes and other calendars are ignored", async () => {
    const uid = await newAppEvent("soon trashed");
    await call("/push/nextcloud", { method: "POST", headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify(nextcloudCall("CalendarObjectUpdatedEvent", calName)) });
    expect(await eventually(() => inApi(uid), (x) => x !== undefined)).toBeDefined();
    const del = await fetch(`${calUrl}${uid}.ics`, { method: "DELETE", headers: { authorization: "Basic " + btoa(`${testEnv.TEST_RADICALE_USER}:${testEnv.TEST_RADICALE_PASSWORD}`) } });
    expect(del.status).toBeLessThan(300);
    const r = await call("/push/nextcloud", { method: "POST", headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify(nextcloudCall("CalendarObjectMovedToTrashEvent", calName)) });
    expect(await r.json()).toEqual({ event: "CalendarObjectMovedToTrashEvent", syncing: ["pushy"] });
    expect(await eventually(() => inApi(uid), (x) => x === undefined)).toBeUndefined();
    const other = await call("/push/nextcloud", { method: "POST", headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify(nextcloudCall("CalendarObjectCreatedEvent", "someone-elses-calendar")) });
    expect(await other.json()).toEqual({ ignored: "no resource uses that calendar" });
    const files = await call("/push/nextcloud", { method: "POST", headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify({ event: { class: "OCP\\Files\\Events\\Node\\NodeCreatedEvent" } }) });
    expect(files.status).toBe(202);
  });
});

describe("Google watch push", () => {
  it("refuses unknown channels, forged tokens, tokens for another channel, and non-google resources", async () => {
    const id = crypto.randomUUID();
    const good = await channelToken(GSECRET, "pushy", id);
    const cases: Array<Record<string, string>> = [
      {},
      { "x-goog-channel-id": id },
      { "x-goog-channel-id": id, "x-goog-channel-token": "pushy.forged" },
      { "x-goog-channel-id": crypto.randomUUID(), "x-goog-channel-token": good },
      { "x-goog-channel-id": id, "x-goog-channel-token": await channelToken("another-secret-0123456789", "pushy", id) },
      // pushy is a CalDAV resource: a Google channel for it cannot exist.
      { "x-goog-channel-id": id, "x-goog-channel-token": good, "x-goog-resource-state": "exists" },
    ];
    for (const h of cases) {
      const r = await call("/push/google", { method: "POST", headers: h });
      expect(r.status, JSON.stringify(h)).toBe(401);
      expect(r.headers.get("content-type")).toContain("application/problem+json");
    }
  });

  it("endpoints without a configured secret do not exist", async () => {
    await configure({ RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD }, { site: SITE, mqtt: false });
    expect((await call("/push/nextcloud", { method: "POST", headers: { authorization: `Bearer ${SECRET}` }, body: "{}" })).status).toBe(404);
    expect((await call("/push/google", { method: "POST" })).status).toBe(404);
  });
});
