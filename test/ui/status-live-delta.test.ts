import type { Browser, Page, Response as PwResponse } from "playwright-core";
import { launchChromium } from "./chromium.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLabhogWorker, type RunningWorker } from "../e2e/start-worker.ts";

/**
 * The status page open in headless Debian Chromium while the lab changes: the
 * page's poll names the board version it shows (`?since=`), a booking made
 * elsewhere arrives as a delta holding only that resource's regions (the
 * other rows are left as they are, not redrawn), and a poll that finds
 * nothing new is a 304. The Worker runs in workerd, memory calendars, no
 * sign-in (AUTH=off).
 */
const lab = {
  site: "delta",
  timezone: "UTC",
  calendars: { default: { backend: "memory" } },
  pools: { boards: { name: "Boards" } },
  resources: Object.fromEntries(["b1", "b2", "b3", "b4"].map((id) => [id, { kind: "board", pool: "boards" }])),
  users: { alice: { email: "alice@example.com", unix: "alice", groups: ["g"] } },
  groups: { g: { admin: ["*"] } },
  policy: { syncInterval: "15s" },
};
let worker: RunningWorker;
let browser: Browser;

async function book(resource: string, purpose: string): Promise<void> {
  const r = await fetch(`${worker.url}/api/v1/reservations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ resource, duration: "1h", purpose }) });
  expect(r.status, await r.clone().text()).toBe(201);
}

/** Runs the page's poll once and returns the /status/live answer it got. */
async function poll(page: Page): Promise<{ res: PwResponse; body: string }> {
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname === "/status/live");
  await page.evaluate(() => delete document.documentElement.dataset.refreshed);
  await page.evaluate(() => (window as unknown as { labhogRefresh(): void }).labhogRefresh());
  const res = await answer;
  await page.waitForFunction(() => document.documentElement.dataset.refreshed !== undefined);
  return { res, body: res.status() === 200 ? await res.text() : "" };
}

const liveIds = (html: string) => [...html.matchAll(/ id="([^"]+)" data-live/g)].map((m) => m[1]!);

beforeAll(async () => {
  worker = await startLabhogWorker({ LAB_CONFIG: JSON.stringify(lab), AUTH: "off", LOG_LEVEL: "error" });
  await book("b1", "already there");
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await worker?.dispose();
});

describe("status page deltas in Chromium", () => {
  it("a booking made elsewhere arrives on the open page as a delta of that resource's regions only", async () => {
    const page = await browser.newPage();
    await page.goto(`${worker.url}/status`);
    const shown = await page.locator("#board").getAttribute("data-version");
    expect(shown).toMatch(/^[0-9a-f]{40}$/);
    await expect(page.locator("#r-b1 .holding").textContent()).resolves.toContain("already there");
    await expect(page.locator("#r-b3 .holding").textContent()).resolves.toContain("Free");
    // Marks on rows that must not be redrawn: a swap would replace these nodes.
    await page.evaluate(() => {
      for (const id of ["live-b1", "tl-b1", "live-b2"]) (document.getElementById(id)!.firstElementChild as HTMLElement).dataset.kept = "1";
    });

    await book("b3", "arrives by delta");
    const { res, body } = await poll(page);
    expect(new URL(res.url()).searchParams.get("since")).toBe(shown);
    expect(res.status()).toBe(200);
    const n = res.headers()["x-labhog-delta"];
    expect(n).toMatch(/^\d+$/);
    const ids = liveIds(body);
    expect(ids.length).toBe(Number(n));
    expect(ids).toEqual(expect.arrayContaining(["live-b3", "tl-b3"]));
    expect(ids.filter((id) => !["summary", "live-b3", "tl-b3"].includes(id))).toEqual([]);
    expect(body).not.toContain("already there");

    // The page shows the new booking; the other rows are the very same nodes.
    await expect(page.locator("#r-b3 .holding").textContent()).resolves.toContain("arrives by delta");
    await expect(page.locator("#r-b3 .bar.active").count()).resolves.toBe(1);
    expect(await page.evaluate(() => ["live-b1", "tl-b1", "live-b2"].map((id) => (document.getElementById(id)!.firstElementChild as HTMLElement).dataset.kept))).toEqual(["1", "1", "1"]);
    expect(await page.evaluate(() => document.documentElement.dataset.delta)).toBe(n);
    // Every week's now-line sits where the summary says, the swapped one included.
    const lefts = await page.evaluate(() => [...document.querySelectorAll<HTMLElement>(".tl .now")].map((e) => e.style.left));
    const now = await page.locator("#summary time[data-now]").getAttribute("data-now");
    expect(new Set(lefts)).toEqual(new Set([now]));

    // Nothing new since: 304 (or, when the minute turned in between, the summary alone).
    const again = await poll(page);
    expect(new URL(again.res.url()).searchParams.get("since")).toBe(res.headers()["x-labhog-version"]);
    if (again.res.status() === 200) expect(liveIds(again.body)).toEqual(["summary"]);
    else expect(again.res.status()).toBe(304);
    await page.close();
  });
});
