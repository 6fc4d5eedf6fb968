import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import type { JWK } from "jose";
import { verifySchedule } from "../../calendar/schedule/schedule.ts";
import type { Env } from "../../worker/env.ts";
import { api, configure, inMinutes, testEnv } from "./helpers.ts";
import { retainedMatching } from "./mqtt-tap.ts";
import { appEvent, getEvent, listEvents, mkcalendar, putEvent } from "./radicale.ts";

const E = env as unknown as Env;
const SITE = `r${crypto.randomUUID().slice(0, 6)}`;
const PREFIX = `test/${SITE}`;
const RES = ["race", "app", "clash", "pub"] as const;
const cal: Record<string, string> = {};
let publicJwk: JWK;

function calendarsYaml(): string {
  return RES.map((r) => `  ${r}: { backend: caldav, url: "${testEnv.TEST_RADICALE_URL}", calendar: "${cal[r]}", username: ${testEnv.TEST_RADICALE_USER}, passwordSecret: RADICALE_PASSWORD }`).join("\n");
}
const resourcesYaml = RES.map((r) => `  ${r}: { kind: host, agent: host1 }`).join("\n");

beforeAll(async () => {
  for (const r of RES) cal[r] = await mkcalendar(`${SITE}-${r}`);
  ({ publicJwk } = await configure({ RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD }, { site: SITE, calendars: calendarsYaml(), resources: resourcesYaml, syncInterval: "3s" }));
});

const verify = (jws: string, resource: string) => verifySchedule(jws, { keys: { [publicJwk.kid!]: publicJwk }, resources: [resource] });

describe("with a real CalDAV server (Radicale)", () => {
  it("50 concurrent creates for one slot: one 201, 49 × 409, one event in Radicale", async () => {
    const start = inMinutes(60);
    const end = inMinutes(120);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => api("POST", "/api/v1/reservations", { resource: "race", start, end, purpose: `race ${i}` })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    const events = await listEvents(cal.race!);
    expect(events).toHaveLength(1);
    const winner = answers.find((a) => a.status === 201)!.body.reservation;
    expect(events[0]).toContain(`UID:${winner.uid}`);
    expect(events[0]).toContain("X-LABHOG-HOLDER:alice");
  });

  it("an event written straight into Radicale appears in the API and the retained schedule within one sync interval", async () => {
    await api("GET", "/api/v1/resources/app"); // the ledger exists...
    await new Promise((r) => setTimeout(r, 1500)); // ...and has done its first sync: what follows is the periodic one
    const uid = `thunderbird-${crypto.randomUUID()}`;
    const put = await putEvent(cal.app!, uid, appEvent({ uid, start: new Date(Date.now() + 600_000), end: new Date(Date.now() + 4_200_000), summary: "bob's kernel test", organizer: "bob@example.com", created: new Date() }));
    expect(put.status).toBe(201);
    const t0 = Date.now();
    let seen: any;
    while (!seen && Date.now() - t0 < 30_000) {
      await new Promise((r) => setTimeout(r, 250));
      seen = (await api("GET", "/api/v1/reservations?resource=app")).body.reservations.find((r: any) => r.uid === uid);
    }
    const inApi = Date.now() - t0;
    expect(seen).toMatchObject({ source: "calendar", holder: { id: "bob" }, state: "upcoming", exclusive: true });
    // By the periodic sync (3 s): the bounds allow a late alarm on a loaded machine, not a missing one (no API call syncs it).
    expect(inApi).toBeLessThanOrEqual(2 * 3000 + 3000);
    const m = await retainedMatching(`${PREFIX}/resources/app/schedule`, async (p) => (await verify(p, "app")).entries.some((e) => e.id === uid), 30_000);
    const s = await verify(m.payload, "app");
    expect(s.entries.find((e) => e.id === uid)!.holder).toMatchObject({ id: "bob", unix: ["bob"] });
    expect(Date.now() - t0).toBeLessThanOrEqual(2 * 3000 + 6000);
  });

  it("two overlapping app-made events: the later one is marked conflict in Radicale, never deleted, left out of the schedule", async () => {
    await api("GET", "/api/v1/resources/clash");
    const first = `apple-${crypto.randomUUID()}`;
    const second = `davx5-${crypto.randomUUID()}`;
    const base = Date.now() + 3_600_000;
    expect((await putEvent(cal.clash!, first, appEvent({ uid: first, start: new Date(base), end: new Date(base + 3_600_000), summary: "alice demo", organizer: "alice@example.com", created: new Date(Date.now() - 60_000) }))).status).toBe(201);
    expect((await putEvent(cal.clash!, second, appEvent({ uid: second, start: new Date(base + 1_800_000), end: new Date(base + 5_400_000), summary: "bob bringup", organizer: "bob@example.com", created: new Date() }))).status).toBe(201);
    let ics = "";
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000) {
      await new Promise((r) => setTimeout(r, 300));
      ics = await getEvent(cal.clash!, second);
      if (/X-LABHOG-STATE:conflict/i.test(ics)) break;
    }
    expect(ics).toMatch(/X-LABHOG-STATE:conflict/i);
    expect(ics).toMatch(/SUMMARY:\[conflict\] bob bringup/);
    expect(await getEvent(cal.clash!, first)).not.toMatch(/conflict/i);
    const rs = (await api("GET", "/api/v1/reservations?resource=clash")).body.reservations;
    expect(rs.find((r: any) => r.uid === second)).toMatchObject({ state: "conflict" });
    expect(rs.find((r: any) => r.uid === first)).toMatchObject({ state: "upcoming" });
    expect((await api("GET", "/api/v1/resources/clash")).body.conflicts).toBe(1);
    const m = await retainedMatching(`${PREFIX}/resources/clash/schedule`, async (p) => (await verify(p, "clash")).entries.some((e) => e.id === first), 30_000);
    expect((await verify(m.payload, "clash")).entries.map((e) => e.id)).toEqual([first]);
    expect(await listEvents(cal.clash!)).toHaveLength(2);
  });

  it("publishing never blocks a booking; a failed publish is retried from the alarm", async () => {
    const authLab = { site: SITE, calendars: calendarsYaml(), resources: resourcesYaml, syncInterval: "3s" };
    const wrong = { RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD, MQTT_PASSWORD: "wrong" };
    const { labYaml } = await import("./helpers.ts");
    const mqttAuth = (yaml: string) => yaml.replace(testEnv.TEST_MQTT_WS_URL!, inject("mqttAuthWsUrl"));
    await configure({ ...wrong, LAB_CONFIG: mqttAuth(labYaml(authLab)) });
    const stub = E.LEDGER.get(E.LEDGER.idFromName("pub"));
    const t0 = Date.now();
    const c = await api("POST", "/api/v1/reservations", { resource: "pub", duration: "1h", purpose: "while the broker refuses us" });
    expect(c.status).toBe(201);
    expect(Date.now() - t0).toBeLessThan(4000); // the refused publish is not on the booking's path
    const meta = () => runInDurableObject(stub, async (_i, state) => (await state.storage.get<{ publishPending: boolean; seq: number }>("meta"))!);
    // Pending as soon as the booking is answered: the mark went out in the booking's own storage batch, so a
    // ledger that died before its publish would still publish from its alarm.
    let m = await meta();
    expect(m.publishPending).toBe(true);
    // The right password arrives (secret rotated): the alarm's retry gets it out.
    await configure({ RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD, MQTT_PASSWORD: inject("mqttAuthPassword"), LAB_CONFIG: mqttAuth(labYaml(authLab)) });
    for (let i = 0; i < 60 && m.publishPending; i++) m = (await new Promise((r) => setTimeout(r, 250)), await meta());
    expect(m.publishPending).toBe(false);
  }, 30_000);
});

describe("calendar server down", () => {
  it("a booking answers 503 problem JSON with Retry-After; so does a read with nothing cached", async () => {
    await configure(
      { RADICALE_PASSWORD: "x" },
      { site: SITE, calendars: `  down: { backend: caldav, url: "http://127.0.0.1:9/", calendar: "http://127.0.0.1:9/labhog/down/", username: u, passwordSecret: RADICALE_PASSWORD }`, resources: "  down: { kind: host }", syncInterval: "3s" },
    );
    const t0 = Date.now();
    const r = await api("POST", "/api/v1/reservations", { resource: "down", duration: "1h" });
    expect(r.status).toBe(503);
    expect(r.headers.get("content-type")).toContain("application/problem+json");
    expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(Date.now() - t0).toBeLessThan(30_000);
    // Never synced and no calendar: no guessed "free", a 503 the client can retry.
    expect((await api("GET", "/api/v1/resources/down")).status).toBe(503);
  }, 40_000);
});
