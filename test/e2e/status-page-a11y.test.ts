import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../ui/chromium.ts";
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
const artifacts = join(import.meta.dirname, "..", "..", "test-artifacts", "status-page-a11y");

const SCHEMES = ["light", "dark"] as const;

beforeAll(async () => {
  await mkdir(artifacts, { recursive: true });
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
  browser = await launchChromium();
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
    const r = await (window as any).axe.run(document, { resultTypes: ["violations", "incomplete"] });
    // Contrast axe could not decide because the text sits on a gradient counts too: nobody can vouch for it.
    const undecided = r.incomplete
      .filter((v: any) => v.id === "color-contrast")
      .flatMap((v: any) => v.nodes.filter((n: any) => n.any.some((c: any) => c.data?.messageKey === "bgGradient")).map((n: any) => ({ target: n.target, failureSummary: "text on a background gradient" })));
    const undecidedV = undecided.length ? [{ id: "color-contrast-on-gradient", impact: "serious", help: "Text on a gradient has no single contrast", nodes: undecided }] : [];
    return [...undecidedV, ...r.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n: any) => ({ target: n.target, failureSummary: n.failureSummary })) }))];
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

    it(`signed in with a conflict, a not-enforced resource, own bookings, a booking form open and refused, on a desktop and a phone, ${scheme}`, async () => {
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
      await page.screenshot({ path: join(artifacts, `signed-in-${scheme}.png`), fullPage: true });
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
      // The phone layout (one column, no sticky heads).
      await page.setViewportSize({ width: 390, height: 844 });
      const phone = await audit(page);
      expect(phone, show(phone)).toEqual([]);
      await ctx.close();
    });
  }
});

/** The focused element shows a :focus-visible outline, and its middle is on screen and covered by nothing (a sticky header). */
async function expectFocusVisible(page: Page): Promise<void> {
  const f = await page.evaluate(() => {
    const el = document.activeElement as HTMLElement;
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + Math.min(r.width / 2, 8), r.top + r.height / 2);
    // A date-time input's focus is in its inner fields: the input never matches :focus-visible itself.
    const focusVisible = el.matches(":focus-visible") || el.matches("input[type=datetime-local]:focus-within");
    const focusColor = getComputedStyle(document.body).getPropertyValue("--focus").trim();
    const probe = document.createElement("i");
    probe.style.color = focusColor;
    document.body.appendChild(probe);
    const expected = getComputedStyle(probe).color;
    probe.remove();
    return { el: el.outerHTML.slice(0, 90), focusVisible, outline: cs.outlineStyle, colorIsFocus: cs.outlineColor === expected, width: parseFloat(cs.outlineWidth), inView: r.top + r.height / 2 >= 0 && r.top + r.height / 2 <= innerHeight, rect: [r.top, r.bottom, innerHeight], onTop: !!hit && (hit === el || el.contains(hit) || hit.contains(el)) };
  });
  expect(f, JSON.stringify(f)).toMatchObject({ focusVisible: true, outline: "solid", colorIsFocus: true, inView: true, onTop: true });
  expect(f.width, f.el).toBeGreaterThanOrEqual(2);
}

/** Presses Tab (nothing else) until the element matching selector has the focus; every stop on the way shows its focus. */
async function tabTo(page: Page, selector: string, max = 300): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await page.evaluate(() => document.activeElement !== document.body)) await expectFocusVisible(page);
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** Whether the middle of the element is on screen and not under anything (the sticky header and pool heads). */
const uncovered = (page: Page, selector: string) =>
  page.locator(selector).evaluate((el) => {
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + Math.min(r.width / 2, 8), r.top + r.height / 2);
    return !!hit && (hit === el || el.contains(hit));
  });

const reservationsOf = async (resource: string) => (await lab.api("GET", `/api/v1/reservations?resource=${resource}`)).body.reservations as any[];

describe("every action works with the keyboard alone", () => {
  for (const scheme of SCHEMES) {
    it(`signs in, opens and closes a booking form, books, extends, releases and signs out with Tab, Enter and Space (${scheme})`, async () => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
      const page = await ctx.newPage();
      await page.goto(`${lab.worker.url}/status`);
      // The first stop is the skip link, shown while focused.
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe("Skip to resources");
      await expectFocusVisible(page);

      await tabTo(page, "#token");
      await page.keyboard.type(TOKENS.alice);
      await tabTo(page, 'form[action="/status/sign-in"] button');
      await page.keyboard.press("Enter");
      await page.waitForURL(/done=signed-in/);

      // The skip link jumps over the header: the next Tab lands in the board.
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe("Skip to resources");
      await page.keyboard.press("Enter");
      await page.keyboard.press("Tab");
      expect(await page.evaluate(() => !!document.activeElement?.closest("#board"))).toBe(true);
      await expectFocusVisible(page);

      // The booking form: a <summary> opens and closes with Enter and Space.
      const details = page.locator("#r-build1 details.book");
      await tabTo(page, "#r-build1 summary");
      await page.keyboard.press("Enter");
      expect(await details.getAttribute("open")).not.toBeNull();
      await page.keyboard.press("Space");
      expect(await details.getAttribute("open")).toBeNull();
      await page.keyboard.press("Space");
      expect(await details.getAttribute("open")).not.toBeNull();
      await tabTo(page, "#book-build1-duration");
      await page.keyboard.press("ArrowDown"); // 1 hour → 2 hours
      expect(await page.locator("#book-build1-duration").inputValue()).toBe("2h");
      await tabTo(page, "#book-build1-purpose");
      await page.keyboard.type(`keyboard only ${scheme}`);
      await tabTo(page, '#r-build1 input[name="shared"]');
      await page.keyboard.press("Space");
      await tabTo(page, '#r-build1 button[type="submit"].primary');
      await page.keyboard.press("Enter");
      await page.waitForURL(/done=booked/);
      // Back on the page at the resource (#r-build1): its heading is not hidden under the sticky header.
      expect(await uncovered(page, "#h-build1")).toBe(true);
      const booked = (await reservationsOf("build1")).find((r) => r.purpose === `keyboard only ${scheme}`);
      expect(booked).toMatchObject({ holder: { id: "alice" }, state: "active", exclusive: false });
      expect(Date.parse(booked.end) - Date.parse(booked.start)).toBe(2 * 3600_000);

      // Extend by one hour: the select moves with the arrow keys, Space presses the button.
      await tabTo(page, `#r-build1 .acts select`);
      await page.keyboard.press("ArrowDown"); // +15 min → +1 hour
      await tabTo(page, '#r-build1 form[action="/status/extend"] button');
      await page.keyboard.press("Space");
      await page.waitForURL(/done=extended/);
      const extended = (await reservationsOf("build1")).find((r) => r.id === booked.id);
      expect(Date.parse(extended.end) - Date.parse(booked.end)).toBe(3600_000);

      // A booking released in its first second is deleted, not ended (iCalendar has second precision): let that second pass.
      await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(booked.start) + 1100 - Date.now())));
      await tabTo(page, '#r-build1 form[action="/status/release"] button');
      await page.keyboard.press("Enter");
      await page.waitForURL(/done=released/);
      const released = await lab.api("GET", `/api/v1/reservations/${encodeURIComponent(booked.id)}`);
      expect(released.body.state, `${released.status} ${JSON.stringify(released.body)}`).toBe("ended");

      await tabTo(page, 'form[action="/status/sign-out"] button');
      await page.keyboard.press("Enter");
      await page.waitForURL(/done=signed-out/);
      expect(await page.locator("#token").count()).toBe(1);
      await ctx.close();
    });
  }
});

describe("links to a resource", () => {
  it("land with the resource's heading below the sticky header and pool heads, not under them", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 400 } });
    const page = await ctx.newPage();
    await signIn(page);
    for (const id of ["rock5b-2", "orangepi5", "build1", "build2"]) {
      await page.goto(`${lab.worker.url}/status#r-${id}`);
      expect(await page.evaluate(() => window.scrollY), id).toBeGreaterThan(0);
      expect(await uncovered(page, `#h-${id}`), id).toBe(true);
    }
    await ctx.close();
  });
});

describe("the Content-Security-Policy in Chromium", () => {
  /** Records every CSP violation the page reports, from before its first script. */
  async function watched(): Promise<{ ctx: BrowserContext; page: Page; violations: () => Promise<string[]>; consoleErrors: string[] }> {
    const ctx = await browser.newContext();
    await ctx.addInitScript(() => {
      (window as any).__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => (window as any).__csp.push(`${e.effectiveDirective} ${e.blockedURI}`));
    });
    const page = await ctx.newPage();
    const consoleErrors: string[] = [];
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) consoleErrors.push(m.text());
    });
    return { ctx, page, consoleErrors, violations: () => page.evaluate(() => (window as any).__csp as string[]) };
  }

  it("no violations while the page runs its live refresh: its inline script runs by the nonce", async () => {
    const { ctx, page, violations, consoleErrors } = await watched();
    await signIn(page, "bob");
    expect(await page.evaluate(() => typeof (window as any).labhogRefresh)).toBe("function");
    // The stylesheet applied too: the sticky header has its background.
    expect(await page.evaluate(() => getComputedStyle(document.querySelector("header")!).position)).toBe("sticky");
    const r = await lab.api("POST", "/api/v1/reservations", { resource: "build2", duration: "1h", purpose: "csp refresh" }, "bob");
    expect(r.status).toBe(201);
    await page.evaluate(() => (window as any).labhogRefresh());
    await page.waitForFunction(() => document.querySelector("#r-build2 .holding")?.textContent?.includes("bob until"));
    // A second poll revalidates: a 304, nothing to swap.
    await page.evaluate(() => delete document.documentElement.dataset.refreshed);
    await page.evaluate(() => (window as any).labhogRefresh());
    await page.waitForFunction(() => document.documentElement.dataset.refreshed !== undefined);
    // The swapped-in week still has its bars placed by style attributes.
    expect(await page.locator("#r-build2 .bar.active").evaluate((e) => (e as HTMLElement).style.left)).toMatch(/%$/);
    expect(await violations()).toEqual([]);
    expect(consoleErrors).toEqual([]);
    expect((await lab.api("POST", `/api/v1/reservations/${encodeURIComponent(r.body.reservation.id)}/release`, undefined, "bob")).status).toBe(200);
    await ctx.close();
  });

  it("a script without the nonce, with a wrong one, or injected into the page does not run", async () => {
    for (const [name, edit] of [
      ["no nonce", (html: string) => html.replace(/<script nonce="[^"]+">/, "<script>")],
      ["wrong nonce", (html: string) => html.replace(/<script nonce="[^"]+">/, '<script nonce="AAAAAAAAAAAAAAAAAAAAAA==">')],
    ] as const) {
      const { ctx, page, violations } = await watched();
      await page.route(`${lab.worker.url}/status`, async (route) => {
        const res = await route.fetch();
        await route.fulfill({ response: res, body: edit(await res.text()) });
      });
      await page.goto(`${lab.worker.url}/status`);
      expect(await page.locator("#token").count(), name).toBe(1);
      expect(await page.evaluate(() => typeof (window as any).labhogRefresh), name).toBe("undefined");
      expect(await violations(), name).toEqual(["script-src-elem inline"]);
      await ctx.close();
    }
    const { ctx, page, violations } = await watched();
    await page.goto(`${lab.worker.url}/status`);
    expect(await page.evaluate(() => typeof (window as any).labhogRefresh)).toBe("function");
    await page.evaluate(() => {
      const s = document.createElement("script");
      s.textContent = "window.__injected = 'script'";
      document.body.appendChild(s);
      document.querySelector("main")!.insertAdjacentHTML("beforeend", `<img src="/status/nope.png" onerror="window.__injected = 'handler'">`);
    });
    await page.waitForFunction(() => (window as any).__csp.length >= 2);
    expect(await page.evaluate(() => (window as any).__injected)).toBeUndefined();
    expect((await violations()).sort()).toEqual(["script-src-attr inline", "script-src-elem inline"]);
    await ctx.close();
  });
});
