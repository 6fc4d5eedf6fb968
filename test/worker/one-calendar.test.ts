import { beforeAll, describe, expect, it } from "vitest";
import { api, configure, testEnv } from "./helpers.ts";
import { appEvent, listEvents, mkcalendar, putEvent } from "./radicale.ts";

/**
 * Several resources in one calendar (`oneCalendar: true`):
 * two resources' ledgers share one real Radicale calendar. A booking through
 * the API is written there naming its resource (X-LABHOG-RESOURCE, LOCATION);
 * an event a person writes names its resource in LOCATION, and only that
 * resource's ledger takes it.
 */
const SITE = `o${crypto.randomUUID().slice(0, 6)}`;
let calUrl = "";

beforeAll(async () => {
  calUrl = await mkcalendar(`${SITE}-lab`);
  await configure(
    { RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD },
    {
      site: SITE,
      mqtt: false,
      calendars: `  default: { backend: memory }
  lab: { backend: caldav, url: "${testEnv.TEST_RADICALE_URL}", calendar: "${calUrl}", oneCalendar: true, username: ${testEnv.TEST_RADICALE_USER}, passwordSecret: RADICALE_PASSWORD }`,
      resources: `  bench1: { kind: host, name: "Bench 1", calendar: lab }
  bench2: { kind: host, name: "Bench 2", calendar: lab }`,
    },
  );
});

const reservations = async (resource: string) => {
  const r = await api("GET", `/api/v1/reservations?resource=${resource}`);
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  return r.body.reservations as Array<{ uid: string; resource: string }>;
};

describe("several resources in one calendar", () => {
  it("a booking is written into the one calendar naming its resource, and only its resource shows it", async () => {
    const r = await api("POST", "/api/v1/reservations", { resource: "bench1", duration: "1h", purpose: "one-calendar booking" }, "alice");
    expect(r.status).toBe(201);
    const uid = r.body.reservation.uid as string;
    const stored = (await listEvents(calUrl)).find((ics) => ics.includes(`UID:${uid}`))!;
    expect(stored).toContain("X-LABHOG-RESOURCE:bench1");
    expect(stored).toContain("LOCATION:Bench 1");
    expect((await reservations("bench1")).map((x) => x.uid)).toContain(uid);
    expect((await reservations("bench2")).map((x) => x.uid)).not.toContain(uid);
  });

  it("an event a person writes with LOCATION naming a resource goes to that resource only", async () => {
    const uid = `app-${crypto.randomUUID()}`;
    const start = new Date(Date.now() + 5 * 3_600_000);
    const ics = appEvent({ uid, start, end: new Date(start.getTime() + 3_600_000), summary: "bob on bench 2", organizer: "bob@example.com", created: new Date() }).replace("SUMMARY:", "LOCATION:bench 2\r\nSUMMARY:");
    expect((await putEvent(calUrl, uid, ics)).status).toBe(201);
    // Periodic sync (15 s) or the next request's staleness check brings it in; poll the API.
    let seen: string[] = [];
    for (let i = 0; i < 200 && !seen.includes(uid); i++) {
      await new Promise((res) => setTimeout(res, 100));
      seen = (await reservations("bench2")).map((x) => x.uid);
    }
    expect(seen).toContain(uid);
    expect((await reservations("bench1")).map((x) => x.uid)).not.toContain(uid);
  });
});
