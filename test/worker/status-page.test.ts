import { beforeAll, describe, expect, it } from "vitest";
import { api, configure, TOKENS } from "./helpers.ts";
import { call } from "./issue5-app.ts";

/** The status page's server side in workerd: sign-in cookie, CSRF, rights, the API's messages. (The browser test is test/e2e/status-page.test.ts.) */
beforeAll(async () => {
  await configure({}, { mqtt: false });
});

function cookies(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of res.headers.getSetCookie()) {
    const [kv] = c.split(";");
    const i = kv!.indexOf("=");
    out[kv!.slice(0, i)] = kv!.slice(i + 1);
  }
  return out;
}

async function session(token: string) {
  const page = await call("/status");
  const jar = cookies(page);
  const csrf = jar.labhog_csrf!;
  const form = new URLSearchParams({ csrf, token });
  const r = await call("/status/sign-in", { method: "POST", body: form, headers: { cookie: `labhog_csrf=${csrf}`, "content-type": "application/x-www-form-urlencoded" }, redirect: "manual" });
  return { r, csrf, cookie: `labhog_csrf=${csrf}; labhog_session=${cookies(r).labhog_session ?? ""}` };
}

const post = (path: string, cookie: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  call(path, { method: "POST", body: new URLSearchParams(fields), headers: { cookie, "content-type": "application/x-www-form-urlencoded", ...headers }, redirect: "manual" });

describe("status page (server side)", () => {
  it("signs in with an API token into an HttpOnly, SameSite cookie; the CSRF cookie is HttpOnly and Strict", async () => {
    const page = await call("/status");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("cache-control")).toBe("no-store");
    const html = await page.text();
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).not.toContain("host1"); // nothing of the lab before sign-in
    expect(page.headers.getSetCookie().join()).toMatch(/labhog_csrf=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict/);
    const { r } = await session(TOKENS.bob);
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/status?done=signed-in");
    expect(r.headers.getSetCookie().join()).toMatch(/labhog_session=tok-bob-0123456789; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax/);
    const bad = await session("nope");
    expect(bad.r.status).toBe(401);
    expect(await bad.r.text()).toContain("Sign-in failed: unknown or revoked token");
  });

  it("form posts need the CSRF token and our own origin", async () => {
    const { cookie, csrf } = await session(TOKENS.alice);
    const fields = { resource: "host1", duration: "1h", purpose: "csrf" };
    expect((await post("/status/book", cookie, fields)).status).toBe(403);
    expect((await post("/status/book", cookie, { ...fields, csrf: "x".repeat(32) })).status).toBe(403);
    expect((await post("/status/book", cookie, { ...fields, csrf }, { origin: "https://evil.example" })).status).toBe(403);
    const ok = await post("/status/book", cookie, { ...fields, csrf }, { origin: "http://labhog.test" });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toMatch(/^\/status\?done=booked&r=host1%3Alabhog-[^#]+#r-host1$/);
    expect((await api("GET", "/api/v1/reservations?resource=host1")).body.reservations.map((r: any) => r.purpose)).toContain("csrf");
  });

  it("gives the API's answers: 409 with the conflict, 403 for resources you may not book, 400 for bad input", async () => {
    const { cookie, csrf } = await session(TOKENS.bob);
    const taken = await post("/status/book", cookie, { csrf, resource: "host1", duration: "1h", purpose: "again" });
    expect(taken.status).toBe(409);
    expect(await taken.text()).toMatch(/host1 is booked at that time: host1:labhog-[^ ]+ \(alice, /);
    const forbidden = await post("/status/book", cookie, { csrf, resource: "secret", duration: "1h" });
    expect(forbidden.status).toBe(403);
    const ft = await forbidden.text();
    expect(ft).toContain("bob may not book secret");
    const bad = await post("/status/book", cookie, { csrf, resource: "host2", duration: "forever" });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("duration");
    const past = await post("/status/book", cookie, { csrf, resource: "host2", start: "2020-01-01T10:00", duration: "1h" });
    expect(past.status).toBe(400);
    expect(await past.text()).toContain("the reservation would be over already");
    const anon = await post("/status/book", `labhog_csrf=${csrf}`, { csrf, resource: "host2", duration: "1h" });
    expect(anon.status).toBe(401);
  });

  it("the live fragment refreshes the board for signed-in users only", async () => {
    expect((await call("/status/live")).status).toBe(401);
    const { cookie } = await session(TOKENS.alice);
    const live = await call("/status/live", { headers: { cookie } });
    expect(live.status).toBe(200);
    const html = await live.text();
    expect(html).toMatch(/^<div id="board">/);
    expect(html).toContain('id="live-host1" data-live');
    expect(html).toContain("alice</strong> until");
  });

  it("a poll that finds nothing new is a 304 without a body; after a booking the fragment comes again, with it", async () => {
    const { cookie, csrf } = await session(TOKENS.bob);
    // The board is drawn as of the minute: two polls that straddle a minute differ; take the next pair.
    let tag = "";
    let again!: Response;
    for (let i = 0; i < 3; i++) {
      const first = await call("/status/live", { headers: { cookie } });
      expect(first.status).toBe(200);
      expect(first.headers.get("cache-control")).toBe("private, no-cache");
      tag = first.headers.get("etag") ?? "";
      expect(tag).toMatch(/^W\/"[0-9a-f]{40}"$/);
      expect(await first.text()).not.toContain("etag-poll");
      again = await call("/status/live", { headers: { cookie, "if-none-match": tag } });
      if (again.status !== 200) break;
    }
    expect(again.status).toBe(304);
    expect(again.headers.get("etag")).toBe(tag);
    expect(await again.text()).toBe("");

    const booked = await post("/status/book", cookie, { resource: "host2", duration: "1h", purpose: "etag-poll", csrf }, { origin: "http://labhog.test" });
    expect(booked.status).toBe(303);
    const after = await call("/status/live", { headers: { cookie, "if-none-match": tag } });
    expect(after.status).toBe(200);
    expect(after.headers.get("etag")).not.toBe(tag);
    expect(await after.text()).toContain("etag-poll");
  });

  it("?since=<version>: 304 when nothing changed, only the changed regions after a booking, the whole board for a version it does not know", async () => {
    const { cookie, csrf } = await session(TOKENS.alice);
    const live = (q = "") => call(`/status/live${q}`, { headers: { cookie } });
    const first = await live();
    expect(first.headers.get("x-labhog-delta")).toBe("full");
    const v1 = first.headers.get("x-labhog-version") ?? "";
    expect(v1).toMatch(/^[0-9a-f]{40}$/);
    expect(first.headers.get("etag")).toBe(`W/"${v1}"`);
    // The page itself names the board version it shows, for its first poll.
    expect(await (await call("/status", { headers: { cookie } })).text()).toMatch(/<div id="board" data-version="[0-9a-f]{40}">/);

    // Nothing new: 304 (the summary's clock may have moved a minute: then that region only).
    const same = await live(`?since=${v1}`);
    if (same.status === 200) expect([...(await same.text()).matchAll(/ id="([^"]+)" data-live/g)].map((m) => m[1])).toEqual(["summary"]);
    else {
      expect(same.status).toBe(304);
      expect(await same.text()).toBe("");
    }

    const booked = await post("/status/book", cookie, { resource: "lone", duration: "1h", purpose: "delta-poll", csrf }, { origin: "http://labhog.test" });
    expect(booked.status).toBe(303);
    const delta = await live(`?since=${v1}`);
    expect(delta.status).toBe(200);
    const body = await delta.text();
    expect(body).toMatch(/^<div id="board" data-delta>/);
    const ids = [...body.matchAll(/ id="([^"]+)" data-live/g)].map((m) => m[1]);
    expect(ids).toEqual(expect.arrayContaining(["live-lone", "tl-lone"]));
    expect(ids.filter((id) => !["summary", "live-lone", "tl-lone"].includes(id!))).toEqual([]);
    expect(delta.headers.get("x-labhog-delta")).toBe(String(ids.length));
    expect(body).toContain("delta-poll");
    expect(delta.headers.get("x-labhog-version")).not.toBe(v1);
    // The board the delta leads to is the one a full poll shows now.
    expect((await live()).headers.get("x-labhog-version")).toBe(delta.headers.get("x-labhog-version"));

    const unknown = await live(`?since=${"0".repeat(40)}`);
    expect(unknown.headers.get("x-labhog-delta")).toBe("full");
    expect(await unknown.text()).toMatch(/^<div id="board">[\s\S]*id="live-host1" data-live/);
  });
});
