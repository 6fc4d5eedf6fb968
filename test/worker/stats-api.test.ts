import { beforeAll, describe, expect, it } from "vitest";
import { api, configure, enc, labYaml, testEnv } from "./helpers.ts";
import { davServers } from "./dav.ts";
import { call } from "./issue5-app.ts";
import { TOKENS } from "./helpers.ts";
import { EXPECTED, fixtureWeek } from "../stats/fixture-week.ts";

/**
 * GET /api/v1/stats over a fixture week (test/stats/fixture-week.ts, with
 * the table computed by hand) written into real calendars: r1 and r2 on
 * Radicale, r3 on Xandikos. The same week twice: 200 days ago, beyond the
 * ledger's cache, so read from the calendars themselves (ledger/history.ts);
 * and two weeks ago, answered from the cache. Both give the table, and
 * the status page's statistics view (/status/stats) draws it.
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

describe("the status page's statistics view", () => {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const page = (q: string, who: "alice" | null = "alice") => call(`/status/stats${q}`, { headers: who ? { cookie: `labhog_session=${TOKENS[who]}` } : {} });
  /** The table's cells, row by row, as text. */
  const cells = (html: string) => [...html.matchAll(/<tr(?: class="total")?><th scope="row">([^<]*)<\/th>((?:<td>[^<]*<\/td>)+)<\/tr>/g)].map((m) => [m[1], ...[...m[2]!.matchAll(/<td>([^<]*)<\/td>/g)].map((x) => x[1])]);

  it("the table and an SVG chart of the hand-computed week, drawn on the server, under the page's CSP and without script", async () => {
    const r = await page(`?from=${day(OLD)}&to=${day(OLD + 6 * DAY)}&by=resource`);
    const html = await r.text();
    expect(r.status, html).toBe(200);
    expect(r.headers.get("content-security-policy")).toMatch(/default-src 'none'.*script-src 'nonce-/);
    expect(html).not.toMatch(/<script/);
    const e = EXPECTED.resource;
    expect(cells(html)).toEqual([
      ...(["r1", "r2", "r3"] as const).map((g) => [R(g), ...[e[g].bookedHours, e[g].usedHours, e[g].idleHours, e[g].unbookedHours].map((n) => n.toFixed(2)), String(e[g].noShows), e[g].utilisation.toFixed(1)]),
      ["total", "40.25", "19.00", "24.75", "3.50", "1", "3.8"],
    ]);
    // The hour axis runs to 25 (r3's 24 h booked, ticks of 5) over 480 px: booked r1 8.25 h = 158.4 px, used in bookings 5 h = 96 px, unbooked 1.5 h = 28.8 px after it.
    expect(html).toMatch(/<svg class="chart" role="img" aria-labelledby="chart-title chart-desc"/);
    const group = (g: string) => new RegExp(`<g data-group="${g}">(.*?)</g>`).exec(html)![1]!;
    const rects = (g: string) => [...group(g).matchAll(/<rect class="(\w+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)].map((m) => [m[1], Number(m[2]), Math.round(Number(m[3]) * 10) / 10]);
    expect(rects(R("r1"))).toEqual([["booked", 150, 158.4], ["used", 150, 96], ["unbooked", 246, 28.8]]);
    expect(rects(R("r3"))).toEqual([["booked", 150, 460.8], ["used", 150, 153.6], ["unbooked", 303.6, 38.4]]);
    expect(group(R("r3"))).toContain("6.0 %");
    expect([...html.matchAll(/<text class="tick"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1])).toEqual(["0 h", "5 h", "10 h", "15 h", "20 h", "25 h"]);
  });

  it("per user and per pool too; the form keeps the window it shows", async () => {
    const html = await (await page(`?from=${day(RECENT)}&to=${day(RECENT + 6 * DAY)}&by=user`)).text();
    expect(cells(html).map((c) => c.slice(0, 3))).toEqual([["alice", "11.25", "7.00"], ["bob", "4.00", "3.00"], ["carol", "26.00", "9.00"], ["total", "40.25", "19.00"]]);
    expect(html).toContain(`name="from" value="${day(RECENT)}"`);
    expect(html).toContain(`name="to" value="${day(RECENT + 6 * DAY)}"`);
    expect(html).toMatch(/<option value="user" selected="">user<\/option>/);
    const pools = await (await page(`?from=${day(RECENT)}&to=${day(RECENT + 6 * DAY)}&by=pool`)).text();
    expect(cells(pools).map((c) => c[0])).toEqual(["(no pool)", "boards", "total"]);
  });

  it("signed out: 401 and no numbers; a bad date or grouping: the page with the message", async () => {
    const anon = await page(`?from=${day(OLD)}`, null);
    const a = await anon.text();
    expect([anon.status, a.includes("Sign in on the status page"), cells(a)]).toEqual([401, true, []]);
    const bad = await page("?from=May");
    expect([bad.status, (await bad.text()).includes("from: a date like 2026-05-04")]).toEqual([400, true]);
    const by = await page("?by=host");
    expect([by.status, (await by.text()).includes("by: one of resource, pool, user")]).toEqual([400, true]);
    const long = await page(`?from=2020-01-01&to=2026-01-01`);
    expect([long.status, (await long.text()).includes("at most 400 days")]).toEqual([400, true]);
  });
});
