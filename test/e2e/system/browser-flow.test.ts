import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireUnshareMount } from "./ns-host-client.ts";
import { shell, startSystemLab, TOKENS, type SystemLab } from "./system-lab.ts";

/**
 * The whole flow in headless Chromium against the real system: bob books host1
 * on the status page → the agent hogs the real sshd and the page shows bob's
 * live session → bob releases on the page → the host is free. A screenshot of
 * each step goes to test-artifacts/e2e-system/.
 */
const artifacts = join(import.meta.dirname, "..", "..", "..", "test-artifacts", "e2e-system");
let lab: SystemLab;
let browser: Browser;
beforeAll(async () => {
  requireUnshareMount();
  await mkdir(artifacts, { recursive: true });
  lab = await startSystemLab();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu"] });
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await lab?.stop();
});

const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

describe("end to end in the browser", () => {
  it("book on the status page → hogged, live usage on the page → release on the page → free", async () => {
    const page = await (await browser.newContext({ timezoneId: "UTC" })).newPage();
    await page.goto(`${lab.worker.url}/status`);
    await page.getByLabel("API token").fill(TOKENS.bob);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/done=signed-in/);
    await shot(page, "1-signed-in");

    const row = page.locator("#r-host1");
    await row.getByText("Book Host 1").click();
    await row.getByLabel("Purpose").fill("browser e2e");
    await shot(page, "2-book-form");
    const t0 = Date.now();
    await row.getByRole("button", { name: "Book host1" }).click();
    await page.waitForURL(/done=booked/);
    await expect(page.getByRole("status").textContent()).resolves.toMatch(/^Booked host1:/);
    await expect(page.locator("#r-host1 .holding").textContent()).resolves.toContain("bob until");
    await shot(page, "3-booked");

    await lab.until("alice locked out", async () => !shell(await lab.login("alice")));
    console.log(JSON.stringify({ flow: 5, pageBookToHogMs: Date.now() - t0 }));
    expect(shell(await lab.login("bob"))).toBe(true);

    // bob works in a terminal; the agent reports it and the page shows it live.
    expect((await lab.ns.call("holdSession", { user: "bob", seconds: 90 })).ready).toBe(true);
    await lab.until("live usage on the page", async () => {
      await page.goto(`${lab.worker.url}/status`);
      return /bob/.test((await page.locator("#r-host1 .usage").textContent({ timeout: 2000 }).catch(() => "")) ?? "");
    }, 60_000);
    await expect(page.locator("#r-host1 .usage").textContent()).resolves.toMatch(/bob logged in/);
    await shot(page, "4-hogged-live-usage");

    await page.locator("#r-host1").getByRole("button", { name: "Release" }).click();
    await page.waitForURL(/done=released/);
    await expect(page.locator("#r-host1 .holding.busy").count()).resolves.toBe(0);
    await shot(page, "5-released");
    await lab.until("alice back", async () => shell(await lab.login("alice")));
  }, 180_000);
});
