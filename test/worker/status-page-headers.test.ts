import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { configure, TOKENS } from "./helpers.ts";

/**
 * The status page's security headers in workerd (hono/secure-headers): a CSP
 * whose only way to run script is this response's nonce, nosniff, no framing,
 * and Secure cookies when the page is served over https. (Chromium enforcing
 * the CSP is test/e2e/status-page-a11y.test.ts.)
 */
beforeAll(async () => {
  await configure({}, { mqtt: false });
});

const at = (origin: string, path: string, init: RequestInit = {}) => SELF.fetch(`${origin}${path}`, { redirect: "manual", ...init });

function directives(csp: string): Map<string, string[]> {
  return new Map(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k!, v]));
}

function cookieOf(res: Response, name: string): string {
  const c = res.headers.getSetCookie().find((s) => s.startsWith(`${name}=`));
  if (!c) throw new Error(`no ${name} cookie in ${JSON.stringify(res.headers.getSetCookie())}`);
  return c;
}

async function signIn(origin: string) {
  const page = await at(origin, "/status");
  const csrf = cookieOf(page, "labhog_csrf").split(";")[0]!.split("=")[1]!;
  const r = await at(origin, "/status/sign-in", { method: "POST", body: new URLSearchParams({ csrf, token: TOKENS.alice }), headers: { cookie: `labhog_csrf=${csrf}`, "content-type": "application/x-www-form-urlencoded", origin } });
  expect(r.status).toBe(303);
  return { page, r, cookie: `labhog_csrf=${csrf}; labhog_session=${cookieOf(r, "labhog_session").split(";")[0]!.split("=")[1]}` };
}

describe("status page security headers", () => {
  it("the page's CSP allows scripts and the stylesheet only by this response's nonce, which the inline script and style carry", async () => {
    const res = await at("http://labhog.test", "/status");
    expect(res.status).toBe(200);
    const csp = directives(res.headers.get("content-security-policy") ?? "");
    const nonce = /^'nonce-([A-Za-z0-9+/]{22}==)'$/.exec(csp.get("script-src")?.join(" ") ?? "")?.[1];
    expect(nonce, res.headers.get("content-security-policy") ?? "no CSP").toBeDefined();
    expect(Object.fromEntries(csp)).toEqual({
      "default-src": ["'none'"],
      "script-src": [`'nonce-${nonce}'`],
      "style-src": [`'nonce-${nonce}'`],
      "style-src-attr": ["'unsafe-inline'"],
      "connect-src": ["'self'"],
      "img-src": ["'self'"],
      "form-action": ["'self'"],
      "frame-ancestors": ["'none'"],
      "base-uri": ["'none'"],
    });
    const html = await res.text();
    expect(html.match(/<script[^>]*>/g)).toEqual([`<script nonce="${nonce}">`]);
    expect(html.match(/<style[^>]*>/g)).toEqual([`<style nonce="${nonce}">`]);
    // A fresh nonce every response.
    const again = await at("http://labhog.test", "/status");
    expect(again.headers.get("content-security-policy")).not.toContain(nonce);
    expect(await again.text()).not.toContain(nonce);
  });

  it("every status response says nosniff, no framing, same-origin referrers; the page and the live fragment alike", async () => {
    const { cookie } = await signIn("http://labhog.test");
    const responses = {
      page: await at("http://labhog.test", "/status", { headers: { cookie } }),
      live: await at("http://labhog.test", "/status/live", { headers: { cookie } }),
      anonLive: await at("http://labhog.test", "/status/live"),
      refused: await at("http://labhog.test", "/status/book", { method: "POST", body: new URLSearchParams({ resource: "host1" }), headers: { cookie, "content-type": "application/x-www-form-urlencoded" } }),
    };
    expect(responses.page.status).toBe(200);
    expect(responses.live.status).toBe(200);
    expect(responses.anonLive.status).toBe(401);
    expect(responses.refused.status).toBe(403);
    for (const [name, r] of Object.entries(responses)) {
      expect(r.headers.get("x-content-type-options"), name).toBe("nosniff");
      expect(r.headers.get("x-frame-options"), name).toBe("DENY");
      expect(r.headers.get("referrer-policy"), name).toBe("same-origin");
      expect(r.headers.get("content-security-policy"), name).toContain("frame-ancestors 'none'");
      expect(directives(r.headers.get("content-security-policy") ?? "").get("script-src"), name).toEqual([expect.stringMatching(/^'nonce-[A-Za-z0-9+/]{22}=='$/)]);
    }
    expect(responses.page.headers.get("cache-control")).toBe("no-store");
    expect(responses.live.headers.get("cache-control")).toBe("private, no-cache");
  });

  it("cookies are Secure over https and not over plain http (a LAN install)", async () => {
    const tls = await signIn("https://labhog.test");
    expect(cookieOf(tls.page, "labhog_csrf")).toMatch(/; Secure(;|$)/);
    expect(cookieOf(tls.r, "labhog_session")).toMatch(/; Secure(;|$)/);
    expect(tls.r.headers.get("strict-transport-security")).toBe("max-age=15552000");
    const out = await at("https://labhog.test", "/status/sign-out", { method: "POST", body: new URLSearchParams({ csrf: tls.cookie.split(";")[0]!.split("=")[1]! }), headers: { cookie: tls.cookie, "content-type": "application/x-www-form-urlencoded", origin: "https://labhog.test" } });
    expect(out.status).toBe(303);
    expect(cookieOf(out, "labhog_session")).toMatch(/; Secure(;|$)/);

    const plain = await signIn("http://labhog.test");
    expect(cookieOf(plain.page, "labhog_csrf")).not.toMatch(/Secure/);
    expect(cookieOf(plain.r, "labhog_session")).not.toMatch(/Secure/);
  });
});
