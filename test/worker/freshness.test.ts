import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, configure, enc, testEnv, TOKENS, wipeLedger } from "./helpers.ts";
import { appIcs, davServers } from "./dav.ts";

/**
 * Never a guessed answer: a ledger that never synced syncs before its first
 * answer; one that can't reach its calendar answers from its cache marked
 * stale, or 503 with Retry-After when it has no cache. The schedule seq
 * survives a ledger that lost its storage.
 */
const E = env as unknown as { LEDGER: DurableObjectNamespace };
const SITE = `f${crypto.randomUUID().slice(0, 6)}`;
const SERVERS = davServers();
const DEAD = `{ backend: caldav, url: "http://127.0.0.1:9/", calendar: "http://127.0.0.1:9/cal/" }`;
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const second = (t: number) => Math.floor(t / 1000) * 1000;

async function labWith(calendars: Record<string, string>, syncInterval: string): Promise<void> {
  const ids = Object.keys(calendars);
  await configure(
    { RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD },
    { site: SITE, calendars: ids.map((id) => `  ${id}: ${calendars[id]}`).join("\n"), resources: ids.map((id) => `  ${id}: { kind: host }`).join("\n"), syncInterval, mqtt: false },
  );
}

describe("the first read of a ledger that never synced", () => {
  it("returns the events written straight into the calendar before the Worker ever touched the resource (Radicale, Xandikos: list, resource, status page, feed)", async () => {
    const now = second(Date.now());
    const cals: Record<string, string> = {};
    const uids: Record<string, string> = {};
    for (const s of SERVERS) {
      for (const kind of ["list", "view", "page", "feed"] as const) {
        const id = `${s.name}-${kind}`;
        const url = await s.mkcalendar(`${SITE}-${kind}`);
        cals[id] = s.calendarYaml(url);
        const uid = `before-${crypto.randomUUID()}`;
        uids[id] = uid;
        // Running now: a ledger answering from nothing would say "Free".
        const put = await s.put(url, uid, appIcs({ uid, start: new Date(now - 10 * MIN), end: new Date(now + 50 * MIN), summary: "bob's board bring-up", organizer: "bob@example.com", created: new Date(now - 60 * MIN) }));
        expect(put.status).toBe(201);
      }
    }
    await labWith(cals, "1h");
    for (const s of SERVERS) {
      const list = await api("GET", `/api/v1/reservations?resource=${s.name}-list&from=${enc(iso(now - 60 * MIN))}`);
      expect(list.status).toBe(200);
      expect(list.body.reservations.map((r: any) => r.uid)).toEqual([uids[`${s.name}-list`]]);
      expect(list.body.reservations[0]).toMatchObject({ state: "active", holder: { id: "bob" }, source: "calendar" });
      expect(list.body.stale).toBe(false);
      expect(Date.parse(list.body.lastSync)).toBeGreaterThanOrEqual(now);

      const view = await api("GET", `/api/v1/resources/${s.name}-view`);
      expect(view.status).toBe(200);
      expect(view.body.current.map((r: any) => r.uid)).toEqual([uids[`${s.name}-view`]]);
      expect(view.body).toMatchObject({ stale: false, unreachableSince: null });

      const feed = await api("GET", `/feeds/${s.name}-feed.ics`);
      expect(feed.status).toBe(200);
      expect(String(feed.body)).toContain("bob's board bring-up");
    }
    // The status page (one call, every resource): the page rows were never touched before it.
    const page = await SELF.fetch("http://labhog.test/status", { headers: { authorization: `Bearer ${TOKENS.alice}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    // Every resource has bob's event running: no row may say Free.
    for (const s of SERVERS) expect(html).toContain(`${s.name}-page`);
    expect(html).toMatch(/<strong>bob<\/strong> until/);
    expect(html).not.toContain("<strong>Free</strong>");
    expect(html).not.toContain("calendar unreachable");
  });
});

describe("a calendar that can't be reached", () => {
  it("with no cache at all: 503 problem JSON with Retry-After, for every read, never an empty list", async () => {
    await labWith({ never: DEAD }, "15s");
    for (const path of ["/api/v1/resources/never", "/api/v1/reservations?resource=never", "/api/v1/resources/never"]) {
      const r = await api("GET", path);
      expect(r.status).toBe(503);
      expect(r.headers.get("content-type")).toContain("application/problem+json");
      expect(r.headers.get("retry-after")).toBe("15");
    }
    expect((await api("GET", "/feeds/never.ics")).status).toBe(503);
  });

  it("with no cache, on the status page: that row says so (never Free), the other rows still show", async () => {
    await labWith({ never: DEAD, fine: "{ backend: memory }" }, "15s");
    expect((await api("POST", "/api/v1/reservations", { resource: "fine", duration: "1h", purpose: "still visible" })).status).toBe(201);
    const page = await SELF.fetch("http://labhog.test/status", { headers: { authorization: `Bearer ${TOKENS.alice}` } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("calendar unreachable — labhog has not read it yet");
    expect(html).toMatch(/<strong>alice<\/strong> until/);
    expect(html).not.toContain("<strong>Free</strong>");
  });

  it("with a cache: answers from it, marked stale with lastSync and since when, once a few sync intervals passed", async () => {
    const s = SERVERS[0]!;
    const url = await s.mkcalendar(`${SITE}-fading`);
    const uid = `fading-${crypto.randomUUID()}`;
    const now = second(Date.now());
    expect((await s.put(url, uid, appIcs({ uid, start: new Date(now + 30 * MIN), end: new Date(now + 90 * MIN), summary: "soak", organizer: "bob@example.com", created: new Date(now) }))).status).toBe(201);
    await labWith({ fading: s.calendarYaml(url) }, "1s");
    const fresh = await api("GET", "/api/v1/resources/fading");
    expect(fresh.body).toMatchObject({ stale: false, unreachableSince: null, next: { uid } });
    const lastSync = fresh.body.lastSync as string;
    // The calendar goes away (its address now answers nothing): alarms keep failing.
    await labWith({ fading: DEAD }, "1s");
    let view = fresh;
    for (let i = 0; i < 80 && !view.body.stale; i++) {
      await new Promise((r) => setTimeout(r, 250));
      view = await api("GET", "/api/v1/resources/fading");
    }
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ stale: true, next: { uid } });
    // A sync already under way when the calendar went away may still have landed: the last good one is that or the one we saw.
    const lastGood = view.body.lastSync as string;
    expect(Date.parse(lastGood)).toBeGreaterThanOrEqual(Date.parse(lastSync));
    expect(Date.parse(view.body.unreachableSince)).toBeGreaterThanOrEqual(Date.parse(lastGood));
    const list = await api("GET", `/api/v1/reservations?resource=fading`);
    expect(list.body).toMatchObject({ stale: true, lastSync: lastGood });
    expect(list.body.reservations.map((r: any) => r.uid)).toEqual([uid]);
    const one = await api("GET", `/api/v1/reservations/${encodeURIComponent(list.body.reservations[0].id)}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ uid, stale: true, lastSync: lastGood });
    const page = await SELF.fetch("http://labhog.test/status", { headers: { authorization: `Bearer ${TOKENS.alice}` } });
    expect(await page.text()).toContain("calendar unreachable since");
  });
});

describe("schedule seq", () => {
  it("after the ledger lost its storage, the next schedule's seq is still above every earlier one", async () => {
    await labWith({ wiped: "{ backend: memory }" }, "1h");
    const stub = () => E.LEDGER.get(E.LEDGER.idFromName("wiped"));
    const seqAfterPublish = async (): Promise<number> => {
      let m: { seq: number; publishPending: boolean } | undefined;
      for (let i = 0; i < 40; i++) {
        m = await runInDurableObject(stub(), async (_i, state) => state.storage.get<{ seq: number; publishPending: boolean }>("meta"));
        if (m && m.seq > 0 && !m.publishPending) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      return m?.seq ?? 0;
    };
    expect((await api("POST", "/api/v1/reservations", { resource: "wiped", duration: "1h", purpose: "before" })).status).toBe(201);
    const before = await seqAfterPublish();
    expect(before).toBeGreaterThan(0);
    await wipeLedger(E.LEDGER, "wiped");
    expect(await runInDurableObject(stub(), async (_i, state) => state.storage.get("meta"))).toBeUndefined();
    expect((await api("POST", "/api/v1/reservations", { resource: "wiped", duration: "1h", purpose: "after" })).status).toBe(201);
    const after = await seqAfterPublish();
    expect(after).toBeGreaterThan(before);
  });
});
