import { beforeAll, describe, expect, inject, it } from "vitest";
import { api, configure, inMinutes } from "./helpers.ts";

/** JWTs from an OIDC issuer (a stand-in started by global-setup.ts) and Cloudflare Access, verified against the issuer's JWKS. */
const issuer = () => inject("oidcIssuer");

async function token(claims: Record<string, unknown>, opts: { audience?: string; expiresIn?: string; kid?: string } = {}): Promise<string> {
  const r = await fetch(`${issuer()}/token`, { method: "POST", body: JSON.stringify({ claims, audience: opts.audience ?? "labhog-api", ...opts }) });
  return ((await r.json()) as { token: string }).token;
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  // No OIDC_JWKS_URL: the JWKS location comes from the issuer's discovery document.
  await configure({ OIDC_ISSUER: issuer(), OIDC_AUDIENCE: "labhog-api", ACCESS_TEAM_DOMAIN: issuer(), ACCESS_AUD: "access-app-aud" }, { mqtt: false });
});

describe("JWT auth", () => {
  it("accepts a valid OIDC token and maps its email to the lab user", async () => {
    const t = await token({ email: "Bob@Example.com", sub: "oidc|123" });
    const r = await api("POST", "/api/v1/reservations", { resource: "host1", start: inMinutes(60), duration: 600 }, null, bearer(t));
    expect(r.status).toBe(201);
    expect(r.body.reservation.holder.id).toBe("bob");
    // bob's rights apply: no booking for others
    const forAlice = await api("POST", "/api/v1/reservations", { resource: "host1", start: inMinutes(200), duration: 600, holder: "alice" }, null, bearer(t));
    expect(forAlice.status).toBe(403);
  });
  it("rejects wrong audience, expired, unknown key, tampered, and unknown users", async () => {
    const cases: Array<[string, number]> = [
      [await token({ email: "bob@example.com" }, { audience: "someone-else" }), 401],
      [await token({ email: "bob@example.com" }, { expiresIn: "-10m" }), 401],
      [await token({ email: "bob@example.com" }, { kid: "rotated-away" }), 401],
      [(await token({ email: "bob@example.com" })).replace(/\.[^.]+$/, ".AAAA"), 401],
      [await token({ email: "mallory@example.com" }), 403],
      ["eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImJvYkBleGFtcGxlLmNvbSJ9.", 401],
    ];
    for (const [t, status] of cases) {
      const r = await api("GET", "/api/v1/resources", undefined, null, bearer(t));
      expect(r.status, t.slice(0, 40)).toBe(status);
      expect(r.headers.get("content-type")).toContain("application/problem+json");
    }
  });
  it("accepts a Cloudflare Access assertion", async () => {
    const t = await token({ email: "alice@example.com" }, { audience: "access-app-aud" });
    const r = await api("GET", "/api/v1/resources/host1", undefined, null, { "cf-access-jwt-assertion": t });
    expect(r.status).toBe(200);
    const wrongAud = await token({ email: "alice@example.com" }, { audience: "labhog-api" });
    expect((await api("GET", "/api/v1/resources/host1", undefined, null, { "cf-access-jwt-assertion": wrongAud })).status).toBe(401);
  });
  it("an unreachable identity provider is a 503, not a 500", async () => {
    await configure({ OIDC_ISSUER: "http://127.0.0.1:9", OIDC_AUDIENCE: "labhog-api" }, { mqtt: false });
    try {
      const t = await token({ email: "bob@example.com" });
      const r = await api("GET", "/api/v1/resources", undefined, null, bearer(t));
      expect(r.status).toBe(503);
      expect(r.headers.get("retry-after")).toBeTruthy();
    } finally {
      await configure({ OIDC_ISSUER: issuer(), OIDC_AUDIENCE: "labhog-api" }, { mqtt: false });
    }
  });
});
