import { beforeAll, describe, expect, it } from "vitest";
import { api, configure, labYaml, testEnv, TOKENS } from "./helpers.ts";
import { call } from "./issue5-app.ts";
import { getEvent, mkcalendar } from "./radicale.ts";

/**
 * What statistics need from the usage mirror, end to end through POST
 * /api/v1/agents/{id}/usage into real Radicale: the running reservation's
 * X-LABHOG-USAGE carries the use tallied so far (`used`), and a reservation
 * released as a no-show says so (`noShow`, with the end it was booked to),
 * and the stats count it from the calendar.
 */
const SITE = `m${crypto.randomUUID().slice(0, 6)}`;
const RES = ["tally", "noshow"] as const;
const cal: Record<string, string> = {};

async function setLab(policy = "") {
  const calendars = ["  default: { backend: memory }", ...RES.map((r) => `  ${r}: { backend: caldav, url: "${testEnv.TEST_RADICALE_URL}", calendar: "${cal[r]}", username: ${testEnv.TEST_RADICALE_USER}, passwordSecret: RADICALE_PASSWORD }`)].join("\n");
  const resources = RES.map((r) => `  ${r}: { kind: host, agent: host1 }`).join("\n");
  const lab = labYaml({ site: SITE, calendars, resources, mqtt: false }).replace("policy:\n", `policy:\n${policy}`);
  await configure({ RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD, USAGE_WRITE_INTERVAL_MS: "0", LAB_CONFIG: lab }, { mqtt: false });
}

beforeAll(async () => {
  for (const r of RES) cal[r] = await mkcalendar(`${SITE}-${r}`);
  await setLab();
});

const snapshot = (users: string[]) => ({ at: new Date().toISOString(), sessions: users.map((user) => ({ user, tty: "pts/1", from: "10.1.2.3", since: new Date().toISOString(), idleSeconds: 3, pid: 4242 })), users: [], sources: {}, extra: {}, errors: [] });
async function report(resource: string, users: string[]) {
  const r = await call(`/api/v1/agents/host1/usage`, { method: "POST", headers: { authorization: `Bearer ${TOKENS.agent}`, "content-type": "application/json" }, body: JSON.stringify({ agent: "host1", at: new Date().toISOString(), resources: { [resource]: snapshot(users) } }) });
  expect(r.status).toBe(202);
  return ((await r.json()) as any).results[resource];
}
const usageOf = (ics: string) => JSON.parse(/X-LABHOG-USAGE:(.*)/.exec(ics.replace(/\r\n[ \t]/g, ""))![1]!.replace(/\\([,;\\])/g, "$1"));

describe("the usage mirror writes what statistics read", () => {
  it("the running reservation's event carries `used`: seconds the holder was logged in, from the first report that showed them", async () => {
    const b = await api("POST", "/api/v1/reservations", { resource: "tally", duration: "2h", purpose: "stats" });
    expect(b.status).toBe(201);
    const uid = b.body.reservation.uid;
    expect((await report("tally", ["alice"])).wrote).toBe("live-line");
    const first = usageOf(await getEvent(cal.tally!, uid));
    expect(first.used.s).toBe(0);
    expect(Date.parse(first.used.first)).toBeGreaterThanOrEqual(Date.parse(b.body.reservation.start));
    expect(first.used.last).toBe(first.used.first);
    expect(first.sessions.map((s: any) => s.user)).toEqual(["alice"]);
    // Alice leaves: a new line, and the time since the last report counted (a second or two here, whole seconds).
    await new Promise((r) => setTimeout(r, 1100));
    expect((await report("tally", [])).wrote).toBe("live-line");
    const second = usageOf(await getEvent(cal.tally!, uid));
    expect(second.used.s).toBeGreaterThanOrEqual(1);
    expect(second.used.first).toBe(first.used.first);
    expect(JSON.stringify(second).length).toBeLessThanOrEqual(600);
    await api("POST", `/api/v1/reservations/${encodeURIComponent(b.body.reservation.id)}/release`);
  });

  it("a no-show is released and marked in its event; the stats count it", async () => {
    await setLab("  noShowGrace: 2s\n");
    const b = await api("POST", "/api/v1/reservations", { resource: "noshow", duration: "2h", purpose: "nobody comes" });
    expect(b.status).toBe(201);
    const r = b.body.reservation;
    await new Promise((res) => setTimeout(res, 2200));
    expect((await report("noshow", [])).noShows).toEqual([r.uid]);
    const ics = await getEvent(cal.noshow!, r.uid);
    const u = usageOf(ics);
    expect(u.noShow.bookedEnd).toBe(r.end);
    expect(Date.parse(u.noShow.at)).toBeGreaterThanOrEqual(Date.parse(r.start) + 2000);
    const from = new Date(Date.parse(r.start) - 3_600_000).toISOString();
    const to = new Date(Date.parse(r.start) + 3_600_000).toISOString();
    const s = await api("GET", `/api/v1/stats?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&by=resource`);
    expect(s.status).toBe(200);
    expect(s.body.groups.find((g: any) => g.group === "noshow")).toMatchObject({ noShows: 1, reservations: 1, usedHours: 0 });
    await setLab();
  });
});
