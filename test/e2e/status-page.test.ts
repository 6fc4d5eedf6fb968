import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../ui/chromium.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inMinutes, publishAgents, putAppEvent, reportUnbookedUse, startLab, TOKENS, type Lab } from "./lab-fixture.ts";
import { fmtWhen } from "../../worker/ui/time.ts";

/**
 * The status page in headless Debian Chromium against the Worker running in
 * workerd: renders the lab, books through the form, extends, releases,
 * refreshes without losing an open form, and works without JavaScript.
 * Screenshots go to test-artifacts/ (and docs/status-page.png).
 */
const root = join(import.meta.dirname, "..", "..");
const artifacts = join(root, "test-artifacts", "status-page");
let lab: Lab;
/** When bob's running build2 booking ends: the page writes it as a time today, or with the weekday past midnight (Europe/Berlin, the lab's zone). */
let bisectEnd: string;
let browser: Browser;

const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

async function signedIn(ctx: BrowserContext, who: keyof typeof TOKENS = "alice"): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(`${lab.worker.url}/status`);
  await page.getByLabel("API token").fill(TOKENS[who]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/done=signed-in/);
  return page;
}

beforeAll(async () => {
  await mkdir(artifacts, { recursive: true });
  lab = await startLab();
  await publishAgents(lab);
  await reportUnbookedUse(lab);
  // Bookings to look at: a running one, upcoming ones, a shared one, and a conflict made in a calendar app.
  const seed = [
    { resource: "build2", start: inMinutes(-50), duration: "3h", purpose: "kernel bisect" },
    { resource: "rock5b-1", duration: "2h", purpose: "u-boot bring-up" },
    { resource: "orangepi5", start: inMinutes(26 * 60), duration: "6h", purpose: "NPU benchmarks" },
    { resource: "jtag1", start: inMinutes(3 * 60), duration: "2h", purpose: "SWD tracing", exclusive: false },
    { resource: "build2", start: inMinutes(50 * 60), duration: "1d", purpose: "release build" },
  ];
  for (const [i, s] of seed.entries()) {
    const r = await lab.api("POST", "/api/v1/reservations", s, i % 2 ? "alice" : "bob");
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    if (i === 0) bisectEnd = r.body.reservation.end;
  }
  const t = Date.now();
  await putAppEvent(lab, "app-first", { start: new Date(t + 4 * 3600_000), end: new Date(t + 7 * 3600_000), summary: "Camera driver tests", organizer: "bob@example.com", created: new Date(t - 3600_000) });
  await putAppEvent(lab, "app-second", { start: new Date(t + 5 * 3600_000), end: new Date(t + 8 * 3600_000), summary: "Display bring-up", organizer: "alice@example.com", created: new Date(t) });
  // The ledger syncs Radicale (5 s interval) and the broker picks up the retained agent topics.
  const t0 = Date.now();
  for (;;) {
    const rs = await lab.api("GET", "/api/v1/resources");
    const byId = Object.fromEntries(rs.body.resources.map((x: any) => [x.id, x]));
    if (byId["rock5b-2"]?.conflicts === 1 && byId.build1?.agent?.status === "online" && byId.build2?.agent?.status === "offline") break;
    if (Date.now() - t0 > 20_000) throw new Error(`lab not ready: ${JSON.stringify(rs.body).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await lab?.stop();
});

describe("status page in Chromium", () => {
  it("asks strangers to sign in and shows them nothing of the lab", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const res = await page.goto(`${lab.worker.url}/status`);
    expect(res?.status()).toBe(200);
    await expect(page.getByLabel("API token").isVisible()).resolves.toBe(true);
    expect(await page.locator("section.res").count()).toBe(0);
    await page.getByLabel("API token").fill("wrong-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").first().textContent()).resolves.toContain("unknown or revoked token");
    expect(await page.locator("section.res").count()).toBe(0);
    await ctx.close();
  });

  it("renders the lab: pools, holders, live usage, agents, conflicts and the week", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "dark" });
    const page = await signedIn(ctx);
    const pools = await page.locator("section.pool h2").evaluateAll((els) => els.map((e) => e.firstChild?.textContent?.trim()));
    expect(pools).toEqual(["RK3588 boards", "Other resources"]);
    const build2 = page.locator("#r-build2");
    expect(await build2.locator(".holding time").getAttribute("datetime")).toBe(bisectEnd);
    await expect(build2.locator(".holding").textContent()).resolves.toBe(`bob until ${fmtWhen("Europe/Berlin", Date.parse(bisectEnd), Date.now())} — kernel bisect`);
    await expect(build2.locator(".pill.bad").first().textContent()).resolves.toMatch(/build2 offline · 4\d min ago/); // 40 min when published; the page rounds, and a loaded machine takes over 30 s to get here
    const build1 = page.locator("#r-build1");
    await expect(build1.locator(".usage").textContent()).resolves.toContain("bob logged in from 10.0.4.17 (active)");
    await expect(build1.locator(".pill.ok").textContent()).resolves.toContain("build1 online");
    await expect(build1.locator(".bar.unbooked .sr").textContent()).resolves.toMatch(/^unbooked use by bob, \d\d:\d\d–\d\d:\d\d$/);
    await expect(page.locator("#r-rock5b-1 .usage").textContent()).resolves.toContain("power rock5b-1=on · USB maskrom exported");
    const rock2 = page.locator("#r-rock5b-2");
    expect(await rock2.getAttribute("class")).toContain("conflicted");
    await expect(rock2.locator(".pill.conflict").textContent()).resolves.toContain("1 conflict");
    await expect(rock2.locator(".bar.conflict .sr").textContent()).resolves.toMatch(/alice: Display bring-up.*CONFLICT/);
    // The week is a picture: positioned bars and a now-line, today widest.
    const bars = await page.locator("#r-orangepi5 .bar").evaluateAll((els) => els.map((e) => (e as HTMLElement).style.left));
    expect(bars.length).toBe(1);
    expect(parseFloat(bars[0]!)).toBeGreaterThan(30);
    expect(await page.locator("#r-build2 .now").count()).toBe(1);
    // Subscribable feeds, labelled for screen readers.
    expect(await page.getByRole("link", { name: "Subscribe to Build server 2's calendar (iCalendar feed)" }).getAttribute("href")).toBe("/feeds/build2.ics");
    await page.screenshot({ path: join(artifacts, "lab-dark.png"), fullPage: true });
    await ctx.close();
  });

  it("books through the form, extends and releases, with the API's rules and messages", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await signedIn(ctx);
    const row = page.locator("#r-build1");
    await row.getByText("Book Build server 1").click();
    await row.getByLabel("Purpose").fill("perf regression hunt");
    await row.getByLabel("Duration").selectOption("2h");
    await shot(page, "book-form");
    await row.getByRole("button", { name: "Book build1" }).click();
    await page.waitForURL(/done=booked/);
    await expect(page.getByRole("status").textContent()).resolves.toMatch(/^Booked build1:labhog-/);
    await expect(page.locator("#r-build1 .holding").textContent()).resolves.toContain("alice until");
    const mine = (await lab.api("GET", "/api/v1/reservations?resource=build1")).body.reservations.find((r: any) => r.purpose === "perf regression hunt");
    expect(mine).toMatchObject({ holder: { id: "alice" }, state: "active", exclusive: true });
    expect(Date.parse(mine.end) - Date.parse(mine.start)).toBe(2 * 3600_000);
    await shot(page, "booked");

    // The same slot again: the API's 409 message, the form kept open with what was typed.
    await page.locator("#r-build1").getByText("Book Build server 1").click();
    await page.locator("#r-build1").getByLabel("Purpose").fill("second try");
    await page.locator("#r-build1").getByRole("button", { name: "Book build1" }).click();
    const err = page.locator("#r-build1 .book .err");
    await expect(err.textContent()).resolves.toMatch(/build1 is booked at that time: build1:labhog-.*alice.*Next free/);
    expect(await page.locator("#r-build1 details.book").getAttribute("open")).not.toBeNull();
    expect(await page.locator("#r-build1").getByLabel("Purpose").inputValue()).toBe("second try");
    await shot(page, "conflict-error");

    // Extend by one hour.
    await page.goto(`${lab.worker.url}/status`);
    const acts = page.locator(`#r-build1 .acts`).first();
    await acts.getByLabel(/Extend build1:.* by/).selectOption("1h");
    await acts.getByRole("button", { name: "Extend" }).click();
    await page.waitForURL(/done=extended/);
    const extended = (await lab.api("GET", `/api/v1/reservations/${encodeURIComponent(mine.id)}`)).body;
    expect(Date.parse(extended.end) - Date.parse(mine.end)).toBe(3600_000);

    // Bob may not change alice's booking: no buttons for him, and a forged post gets the API's 403.
    const bobCtx = await browser.newContext();
    const bobPage = await signedIn(bobCtx, "bob");
    expect(await bobPage.locator("#r-build1 .acts").count()).toBe(0);
    const csrf = await bobPage.locator("input[name=csrf]").first().inputValue();
    const forged = await bobPage.request.post(`${lab.worker.url}/status/release`, { form: { csrf, id: mine.id } });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain("only the holder or an admin of build1 may change this reservation");
    // And a post without the CSRF token is refused before anything happens.
    const noCsrf = await bobPage.request.post(`${lab.worker.url}/status/release`, { form: { id: mine.id } });
    expect(noCsrf.status()).toBe(403);
    await bobCtx.close();

    // Release.
    await page.locator(`#r-build1 .acts`).first().getByRole("button", { name: "Release" }).click();
    await page.waitForURL(/done=released/);
    const released = (await lab.api("GET", `/api/v1/reservations/${encodeURIComponent(mine.id)}`)).body;
    expect(released.state).toBe("ended");
    await expect(page.locator("#r-build1 .holding").textContent()).resolves.toContain("Free");
    await shot(page, "released");
    await ctx.close();
  });

  it("refreshes itself without losing scroll position or an open, half-filled form", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 700 } });
    const page = await signedIn(ctx);
    const row = page.locator("#r-jtag1");
    await row.getByText("Book J-Link probe").click();
    await row.getByLabel("Purpose").fill("half-typed");
    await row.getByLabel("Purpose").focus();
    await page.evaluate(() => window.scrollTo(0, 300));
    const y = await page.evaluate(() => window.scrollY);
    const booked = await lab.api("POST", "/api/v1/reservations", { resource: "orangepi5", duration: "1h", purpose: "hotfix" }, "bob");
    expect(booked.status).toBe(201);
    await page.evaluate(() => (window as any).labhogRefresh());
    await page.waitForFunction(() => document.documentElement.dataset.refreshed !== undefined);
    await expect(page.locator("#r-orangepi5 .holding").textContent()).resolves.toContain("bob until");
    expect(await row.getByLabel("Purpose").inputValue()).toBe("half-typed");
    expect(await page.locator("#r-jtag1 details.book").getAttribute("open")).not.toBeNull();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("book-jtag1-purpose");
    expect(await page.evaluate(() => window.scrollY)).toBe(y);
    await ctx.close();
  });

  it("without JavaScript still shows everything, and its forms still work", async () => {
    const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 }, colorScheme: "light" });
    const page = await signedIn(ctx, "bob");
    const text = (await page.locator("main").textContent()) ?? "";
    for (const s of ["RK3588 boards", "Build server 2", "bob until", "kernel bisect", "bob logged in from 10.0.4.17", "1 conflict", "build2 offline", "build1 online", "power rock5b-1=on"]) expect(text).toContain(s);
    expect(await page.locator(".bar").count()).toBeGreaterThan(4);
    await page.locator("#r-rock5b-1 summary").click();
    await page.locator("#r-rock5b-1").getByLabel("Start").fill(new Date(Date.now() + 3 * 86_400_000).toLocaleString("sv-SE", { timeZone: "Europe/Berlin" }).slice(0, 16).replace(" ", "T"));
    await page.locator("#r-rock5b-1").getByLabel("Purpose").fill("no-js booking");
    await page.locator("#r-rock5b-1").getByRole("button", { name: "Book rock5b-1" }).click();
    await page.waitForURL(/done=booked/);
    const rs = (await lab.api("GET", "/api/v1/reservations?resource=rock5b-1&to=" + encodeURIComponent(inMinutes(5 * 1440)))).body.reservations;
    expect(rs.some((r: any) => r.purpose === "no-js booking" && r.holder.id === "bob" && r.state === "upcoming")).toBe(true);
    await page.screenshot({ path: join(artifacts, "phone-nojs.png"), fullPage: true });
    await ctx.close();
  });

  it("is light: one request, no scripts or styles to fetch, small HTML, quick to answer", async () => {
    const ctx = await browser.newContext();
    const page = await signedIn(ctx);
    const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const r = await fetch(`${lab.worker.url}/status`, { headers: { cookie } });
      bytes = (await r.arrayBuffer()).byteLength;
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(`${lab.worker.url}/status`);
    expect(requests).toEqual([`${lab.worker.url}/status`]);
    console.log(JSON.stringify({ statusPageBytes: bytes, p50Ms: Math.round(times[5]!), maxMs: Math.round(times[9]!) }));
    expect(bytes).toBeLessThan(100_000);
    expect(times[5]!).toBeLessThan(1000);
    await ctx.close();
  });

  it("takes the README screenshot", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 860 }, colorScheme: "light", deviceScaleFactor: 1 });
    const page = await signedIn(ctx);
    await page.goto(`${lab.worker.url}/status`);
    await page.screenshot({ path: join(root, "docs", "status-page.png"), fullPage: false });
    await ctx.close();
  });
});
