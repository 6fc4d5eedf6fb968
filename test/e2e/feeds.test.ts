import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inMinutes, publishAgents, putAppEvent, startLab, TOKENS, type Lab } from "./lab-fixture.ts";

/**
 * The iCalendar feeds, fetched from the Worker in workerd and parsed by
 * python-icalendar (Debian's python3-icalendar: not our parser).
 */
const run = promisify(execFile);
let lab: Lab;

interface Parsed {
  calendar: Record<string, string>;
  events: Array<{ uid: string; summary: string; status: string; transp: string; description: string; start: string; end: string; dtstamp: string; categories: string[]; state: string; usage: string }>;
}

async function parse(ics: string): Promise<Parsed> {
  const child = run("/usr/bin/python3", [join(import.meta.dirname, "parse-ics.py")], { maxBuffer: 8 * 1024 * 1024 });
  child.child.stdin!.end(ics);
  return JSON.parse((await child).stdout) as Parsed;
}

const feed = (path: string, init: RequestInit = {}) => fetch(`${lab.worker.url}${path}`, init);

beforeAll(async () => {
  lab = await startLab();
  await publishAgents(lab);
  for (const s of [
    { resource: "rock5b-1", duration: "2h", purpose: "u-boot bring-up" },
    { resource: "orangepi5", start: inMinutes(26 * 60), duration: "6h", purpose: "NPU benchmarks" },
    { resource: "jtag1", start: inMinutes(3 * 60), duration: "2h", purpose: "SWD tracing", exclusive: false },
  ]) expect((await lab.api("POST", "/api/v1/reservations", s)).status).toBe(201);
  const t = Date.now();
  await putAppEvent(lab, "first", { start: new Date(t + 4 * 3600_000), end: new Date(t + 7 * 3600_000), summary: "Camera tests", organizer: "bob@example.com", created: new Date(t - 3600_000) });
  await putAppEvent(lab, "second", { start: new Date(t + 5 * 3600_000), end: new Date(t + 8 * 3600_000), summary: "Display bring-up", organizer: "alice@example.com", created: new Date(t) });
  const t0 = Date.now();
  for (;;) {
    const rs = (await lab.api("GET", "/api/v1/resources")).body.resources;
    if (rs.find((x: any) => x.id === "rock5b-2")?.conflicts === 1 && rs.find((x: any) => x.id === "rock5b-1")?.usage) break;
    if (Date.now() - t0 > 20_000) throw new Error("lab not ready");
    await new Promise((r) => setTimeout(r, 300));
  }
}, 120_000);

afterAll(async () => {
  await lab?.stop();
});

describe("iCalendar feeds", () => {
  it("a resource feed is valid iCalendar with cache headers, the running booking carries live usage", async () => {
    const r = await feed(`/feeds/rock5b-1.ics?token=${TOKENS.bob}`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/calendar; charset=utf-8");
    expect(r.headers.get("cache-control")).toMatch(/max-age=\d+/);
    const etag = r.headers.get("etag");
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const parsed = await parse(await r.text());
    expect(parsed.calendar).toMatchObject({ VERSION: "2.0", METHOD: "PUBLISH", "X-WR-CALNAME": "labhog e2e: Rock 5B #1" });
    expect(parsed.events).toHaveLength(1);
    const [ev] = parsed.events;
    expect(ev).toMatchObject({ summary: "alice: u-boot bring-up", status: "CONFIRMED", transp: "OPAQUE", state: "active" });
    expect(ev!.description.split("\n")[0]).toBe("Live: nobody logged in · power rock5b-1=on · USB maskrom exported");
    expect(JSON.parse(ev!.usage)).toMatchObject({ power: { "rock5b-1": "on" } });
    expect(Date.parse(ev!.end) - Date.parse(ev!.start)).toBe(2 * 3600_000);

    // Unchanged: 304 for the same ETag; webcal clients with Basic auth (token as password) work too.
    const again = await feed(`/feeds/rock5b-1.ics`, { headers: { "if-none-match": etag!, authorization: "Basic " + Buffer.from(`bob:${TOKENS.bob}`).toString("base64") } });
    expect(again.status).toBe(304);
  });

  it("conflicts stand out: TENTATIVE, [conflict] summary, and whom they lost to", async () => {
    const parsed = await parse(await (await feed(`/feeds/rock5b-2.ics`, { headers: { authorization: `Bearer ${TOKENS.alice}` } })).text());
    const loser = parsed.events.find((e) => e.summary.includes("Display bring-up"))!;
    const winner = parsed.events.find((e) => e.summary.includes("Camera tests"))!;
    expect(loser).toMatchObject({ summary: "[conflict] alice: Display bring-up", status: "TENTATIVE", state: "conflict" });
    expect(loser.categories).toContain("conflict");
    expect(loser.description).toMatch(/^CONFLICT: overlaps rock5b-2:first/);
    expect(winner).toMatchObject({ summary: "bob: Camera tests", status: "CONFIRMED", state: "upcoming" });
  });

  it("a pool feed holds every member's bookings, named by resource; shared ones are transparent", async () => {
    const parsed = await parse(await (await feed(`/feeds/pool/rk3588.ics?token=${TOKENS.alice}`)).text());
    const summaries = parsed.events.map((e) => e.summary).sort();
    expect(summaries).toEqual(["Orange Pi 5 · alice: NPU benchmarks", "Rock 5B #1 · alice: u-boot bring-up", "Rock 5B #2 · bob: Camera tests", "[conflict] Rock 5B #2 · alice: Display bring-up"].sort());
    const jtag = await parse(await (await feed(`/feeds/jtag1.ics?token=${TOKENS.alice}`)).text());
    expect(jtag.events[0]).toMatchObject({ transp: "TRANSPARENT", summary: "alice: SWD tracing (shared)" });
    expect(new Set(parsed.events.map((e) => e.uid)).size).toBe(parsed.events.length);
  });

  it("changes show up with a new ETag; strangers and unknown feeds get problem JSON", async () => {
    const before = await feed(`/feeds/build1.ics?token=${TOKENS.alice}`);
    const etag = before.headers.get("etag")!;
    expect((await parse(await before.text())).events).toHaveLength(0);
    expect((await lab.api("POST", "/api/v1/reservations", { resource: "build1", duration: "1h", purpose: "feeds" })).status).toBe(201);
    const after = await feed(`/feeds/build1.ics?token=${TOKENS.alice}`, { headers: { "if-none-match": etag } });
    expect(after.status).toBe(200);
    expect(after.headers.get("etag")).not.toBe(etag);
    expect((await parse(await after.text())).events.map((e) => e.summary)).toEqual(["alice: feeds"]);

    for (const path of ["/feeds/build1.ics", "/feeds/build1.ics?token=nope"]) {
      const r = await feed(path);
      expect(r.status).toBe(401);
      expect(r.headers.get("content-type")).toContain("application/problem+json");
      expect(r.headers.get("www-authenticate")).toContain("Basic");
    }
    expect((await feed(`/feeds/nope.ics?token=${TOKENS.alice}`)).status).toBe(404);
    expect((await feed(`/feeds/pool/nope.ics?token=${TOKENS.alice}`)).status).toBe(404);
  });
});
