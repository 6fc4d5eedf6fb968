import { beforeAll, describe, expect, inject, it } from "vitest";
import { api, configure } from "./helpers.ts";
import { call } from "./issue5-app.ts";

/** The status page behind Cloudflare Access and with OIDC JWTs (the issuer is the stand-in from global-setup.ts). */
const issuer = () => inject("oidcIssuer");
async function token(claims: Record<string, unknown>, audience: string): Promise<string> {
  const r = await fetch(`${issuer()}/token`, { method: "POST", body: JSON.stringify({ claims, audience }) });
  return ((await r.json()) as { token: string }).token;
}

beforeAll(async () => {
  await configure({ OIDC_ISSUER: issuer(), OIDC_AUDIENCE: "labhog-api", ACCESS_TEAM_DOMAIN: issuer(), ACCESS_AUD: "access-app-aud" }, { mqtt: false });
});

const csrfOf = (res: Response) => /labhog_csrf=([^;]+)/.exec(res.headers.getSetCookie().join())![1]!;

describe("status page single sign-on", () => {
  it("behind Cloudflare Access the assertion signs the user in, and the forms work with it", async () => {
    const assertion = await token({ email: "alice@example.com" }, "access-app-aud");
    const page = await call("/status", { headers: { "cf-access-jwt-assertion": assertion } });
    const html = await page.text();
    expect(html).toContain("Signed in as <strong>alice</strong>");
    expect(html).not.toContain(">Sign out<"); // Access owns the session
    expect(html).toContain('id="r-host1"');
    const csrf = csrfOf(page);
    const r = await call("/status/book", {
      method: "POST",
      redirect: "manual",
      headers: { "cf-access-jwt-assertion": assertion, cookie: `labhog_csrf=${csrf}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, resource: "lone", duration: "1h", purpose: "via access" }),
    });
    expect(r.status).toBe(303);
    const rs = (await api("GET", "/api/v1/reservations?resource=lone", undefined, null, { "cf-access-jwt-assertion": assertion })).body.reservations;
    expect(rs.find((x: any) => x.purpose === "via access")).toMatchObject({ holder: { id: "alice" } });
  });

  it("a refused assertion shows why, and nothing of the lab", async () => {
    const wrongAud = await token({ email: "alice@example.com" }, "labhog-api");
    const html = await (await call("/status", { headers: { "cf-access-jwt-assertion": wrongAud } })).text();
    expect(html).toContain("token rejected: claim aud");
    expect(html).not.toContain('id="r-host1"');
  });

  it("an OIDC JWT works in the sign-in form like an API token", async () => {
    const jwt = await token({ email: "bob@example.com" }, "labhog-api");
    const first = await call("/status");
    const csrf = csrfOf(first);
    const r = await call("/status/sign-in", { method: "POST", redirect: "manual", headers: { cookie: `labhog_csrf=${csrf}`, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ csrf, token: jwt }) });
    expect(r.status).toBe(303);
    const session = /labhog_session=([^;]+)/.exec(r.headers.getSetCookie().join())![1]!;
    const html = await (await call("/status", { headers: { cookie: `labhog_csrf=${csrf}; labhog_session=${session}` } })).text();
    expect(html).toContain("Signed in as <strong>bob</strong>");
  });
});
