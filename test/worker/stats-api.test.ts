import { beforeAll, describe, expect, it } from "vitest";
import { api, configure, enc, labYaml, testEnv } from "./helpers.ts";
import { davServers } from "./dav.ts";
import { EXPECTED, fixtureWeek } from "../stats/fixture-week.ts";

/**
 * GET /api/v1/stats over a fixture week (test/stats/fixture-week.ts, with
 * the table computed by hand) written into real calendars: r1 and r2 on
 * Radicale, r3 on Xandikos. The same week twice: 200 days ago, beyond the
 * ledger's cache, so read from the calendars themselves (ledger/history.ts);
 * and two weeks ago, answered from the cache. Both give the table.
 */
const SITE = `s${crypto.randomUUID().slice(0, 6)}`;
const [RADICALE, XANDIKOS] = davServers() as [ReturnType<typeof davServers>[0], ReturnType<typeof davServers>[0]];
const DAY = 86_400_000;
const R = (r: string) => `${SITE}-${r}`;

/** Monday 00:00Z at least `days` before now. */
function mondayBefore(days: number): number {
  const d = new Date(Date.now() - days * DAY);
  const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return midnight - ((new Date(midnight).getUTCDay() + 6) % 7) * DAY;
}
const OLD = mondayBefore(200);
const RECENT = mondayBefore(16);

beforeAll(async () => {
  const servers = { r1: RADICALE, r2: RADICALE, r3: XANDIKOS };
  const urls: Record<string, string> = {};
  for (const [r, s] of Object.entries(servers)) urls[r] = await s.mkcalendar(R(r));
  for (const [w, tag] of [[OLD, "old"], [RECENT, "new"]] as const) {
    for (const [r, events] of Object.entries(fixtureWeek(w, `${SITE}-${tag}`))) {
      for (const e of events) {
        const put = await servers[r as "r1"].put(urls[r]!, e.uid, e.ics);
        expect(put.status, `${r} ${e.uid}: ${await put.text()}`).toBe(201);
      }
    }
  }
  const calendars = ["r1", "r2", "r3"].map((r) => `  ${R(r)}: ${servers[r as "r1"].calendarYaml(urls[r]!)}`).join("\n");
  const resources = [`  ${R("r1")}: { kind: board, pool: boards }`, `  ${R("r2")}: { kind: board, pool: boards }`, `  ${R("r3")}: { kind: host }`].join("\n");
  const lab = { site: SITE, calendars, resources, syncInterval: "1h", mqtt: false };
  await configure({ RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD, LAB_CONFIG: labYaml(lab) }, lab);
});

const stats = (from: number, by: string, who: "alice" | "carol" | null = "alice") => api("GET", `/api/v1/stats?from=${enc(new Date(from).toISOString())}&to=${enc(new Date(from + 7 * DAY).toISOString())}&by=${by}`, undefined, who);
const rows = (body: any) => Object.fromEntries(body.groups.map(({ group, ...rest }: any) => [String(group).replace(`${SITE}-`, ""), rest]));

describe("GET /api/v1/stats on real calendars", () => {
  for (const [name, week] of [["200 days ago (read from the calendars)", OLD], ["two weeks ago (from the cache)", RECENT]] as const) {
    for (const by of ["resource", "pool", "user"] as const) {
      it(`${name}, by ${by}: the hand-computed table`, async () => {
        const a = await stats(week, by);
        expect(a.status, JSON.stringify(a.body)).toBe(200);
        expect(rows(a.body)).toEqual(EXPECTED[by]);
        const { group: _g, ...total } = a.body.total;
        expect(total).toEqual(EXPECTED.total);
        expect([a.body.from, a.body.to, a.body.by, a.body.stale]).toEqual([new Date(week).toISOString(), new Date(week + 7 * DAY).toISOString(), by, false]);
      });
    }
  }

  it("any signed-in user may read them (carol, who may book nothing); nobody else", async () => {
    expect((await stats(RECENT, "resource", "carol")).status).toBe(200);
    const anon = await stats(RECENT, "resource", null);
    expect([anon.status, anon.headers.get("content-type")]).toEqual([401, "application/problem+json"]);
  });

  it("a bad window is a problem: from after to, longer than 400 days, an unknown grouping, a date that is no date", async () => {
    const bad = async (q: string) => {
      const a = await api("GET", `/api/v1/stats?${q}`);
      return [a.status, a.headers.get("content-type"), a.body.type];
    };
    const at = (ms: number) => enc(new Date(ms).toISOString());
    const invalid = [400, "application/problem+json", "https://labhog.dev/problems/invalid"];
    expect(await bad(`from=${at(RECENT)}&to=${at(RECENT)}`)).toEqual(invalid);
    expect(await bad(`from=${at(RECENT + DAY)}&to=${at(RECENT)}`)).toEqual(invalid);
    expect(await bad(`from=${at(RECENT - 401 * DAY)}&to=${at(RECENT)}`)).toEqual(invalid);
    expect(await bad(`from=${at(RECENT - 400 * DAY)}&to=${at(RECENT)}`)).toEqual([200, "application/json", undefined]);
    expect(await bad(`by=host`)).toEqual(invalid);
    expect(await bad(`from=yesterday`)).toEqual(invalid);
    expect(await bad(`holder=alice`)).toEqual(invalid);
  });
});
