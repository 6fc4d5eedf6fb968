import { env } from "cloudflare:test";
import type { JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { verifySchedule } from "../../calendar/schedule/schedule.ts";
import { api, configure, enc, inMinutes, TOKENS } from "./helpers.ts";
import { call } from "./issue5-app.ts";
import { retainedMatching } from "./mqtt-tap.ts";

/** Notices in workerd: rights, validation, expiry, the calendar event, the signed schedule, the status page. */
const SITE = `n${crypto.randomUUID().slice(0, 6)}`;
const E = env as unknown as { LEDGER: DurableObjectNamespace };
let publicJwk: JWK;

beforeAll(async () => {
  ({ publicJwk } = await configure({}, { site: SITE }));
});

type Obj = { id: string; ics: string };
const objectsOf = async (resource: string): Promise<Obj[]> => {
  const r = (await (E.LEDGER.get(E.LEDGER.idFromName(resource)) as unknown as { calendarObjects(r: string): Promise<{ ok: boolean; value: Obj[] }> }).calendarObjects(resource));
  expect(r.ok).toBe(true);
  return r.value;
};
const noticeEvents = async (resource: string, id: string) => (await objectsOf(resource)).filter((o) => o.ics.includes(`labhog-notice-${id}-${resource}`));

describe("rights", () => {
  it("an admin may send a notice for anything: a resource, a pool, the whole lab", async () => {
    const one = await api("POST", "/api/v1/notices", { text: "secret goes down at 14:00", resources: ["secret"] });
    expect(one.status).toBe(201);
    expect(one.body).toMatchObject({ text: "secret goes down at 14:00", by: "alice", resources: ["secret"] });
    expect(one.body.id).toMatch(/^n-[0-9a-f]{32}$/);
    const pool = await api("POST", "/api/v1/notices", { text: "boards: new firmware", pool: "boards" });
    expect(pool.status).toBe(201);
    expect(pool.body.resources).toEqual(["b1", "b2"]);
    const all = await api("POST", "/api/v1/notices", { text: "lab power work on Friday", all: true, until: "1h" });
    expect(all.status).toBe(201);
    expect(all.body.resources).toEqual(["host1", "host2", "b1", "b2", "usb1", "lone", "secret"]);
    for (const n of [one, pool, all]) expect((await api("DELETE", `/api/v1/notices/${n.body.id}`)).status).toBe(200);
  });

  it("a holder may send one for the resource they hold now, for nothing else; others get 403", async () => {
    // bob holds nothing yet: refused even where he may book.
    const before = await api("POST", "/api/v1/notices", { text: "please log out", resources: ["lone"] }, "bob");
    expect(before.status).toBe(403);
    expect(before.headers.get("content-type")).toContain("application/problem+json");
    expect(before.body.detail).toMatch(/only an admin of lone or the user holding it now/);
    const b = await api("POST", "/api/v1/reservations", { resource: "lone", duration: "1h", purpose: "bring-up" }, "bob");
    expect(b.status).toBe(201);
    const mine = await api("POST", "/api/v1/notices", { text: "please log out, flashing", resources: ["lone"] }, "bob");
    expect(mine.status).toBe(201);
    expect(mine.body).toMatchObject({ by: "bob", resources: ["lone"] });
    // Holding lone gives no right on host2, nor on a pool or the lab, nor all-or-none with lone in it.
    expect((await api("POST", "/api/v1/notices", { text: "x", resources: ["host2"] }, "bob")).status).toBe(403);
    expect((await api("POST", "/api/v1/notices", { text: "x", resources: ["lone", "host2"] }, "bob")).status).toBe(403);
    expect((await api("POST", "/api/v1/notices", { text: "x", pool: "boards" }, "bob")).status).toBe(403);
    expect((await api("POST", "/api/v1/notices", { text: "x", all: true }, "bob")).status).toBe(403);
    // carol (no rights) and an agent token: 403; nobody: 401.
    expect((await api("POST", "/api/v1/notices", { text: "x", resources: ["lone"] }, "carol")).status).toBe(403);
    expect((await api("POST", "/api/v1/notices", { text: "x", resources: ["host1"] }, "agent")).status).toBe(403);
    expect((await api("POST", "/api/v1/notices", { text: "x", resources: ["lone"] }, null)).status).toBe(401);
    // The refused ones left nothing behind.
    expect((await api("GET", "/api/v1/notices?resource=host2")).body.notices).toEqual([]);
    // Deleting: carol may not; bob (its sender) may.
    expect((await api("DELETE", `/api/v1/notices/${mine.body.id}`, undefined, "carol")).status).toBe(403);
    expect((await api("DELETE", `/api/v1/notices/${mine.body.id}`, undefined, "bob")).status).toBe(200);
    expect((await api("DELETE", `/api/v1/notices/${mine.body.id}`, undefined, "bob")).status).toBe(404);
    await api("POST", `/api/v1/reservations/${enc(b.body.reservation.id)}/release`, undefined, "bob");
  });

  it("a notice by an admin is deleted only by an admin (or its sender)", async () => {
    const n = await api("POST", "/api/v1/notices", { text: "do not power-cycle", resources: ["host1"] });
    expect((await api("DELETE", `/api/v1/notices/${n.body.id}`, undefined, "bob")).status).toBe(403);
    expect((await api("GET", "/api/v1/notices?resource=host1")).body.notices.map((x: { id: string }) => x.id)).toEqual([n.body.id]);
    expect((await api("DELETE", `/api/v1/notices/${n.body.id}`)).status).toBe(200);
    expect((await api("GET", "/api/v1/notices?resource=host1")).body.notices).toEqual([]);
  });
});

describe("validation", () => {
  const bad = async (body: unknown, status = 400) => {
    const r = await api("POST", "/api/v1/notices", body);
    expect(r.status, JSON.stringify(body)).toBe(status);
    expect(r.headers.get("content-type")).toContain("application/problem+json");
    return r.body as { detail: string };
  };

  it("text: 1..500 printable characters, one line", async () => {
    expect((await bad({ text: "", resources: ["host1"] })).detail).toMatch(/body\.text/);
    await bad({ text: "   ", resources: ["host1"] });
    await bad({ text: "x".repeat(501), resources: ["host1"] });
    expect((await bad({ text: "line one\nline two", resources: ["host1"] })).detail).toMatch(/printable/);
    await bad({ text: "red \u001b[31malert", resources: ["host1"] });
    await bad({ text: "bidi \u202e trick", resources: ["host1"] });
    await bad({ text: 42, resources: ["host1"] });
    const ok = await api("POST", "/api/v1/notices", { text: "ü€ 😀 " + "x".repeat(490), resources: ["host1"] });
    expect(ok.status).toBe(201);
    await api("DELETE", `/api/v1/notices/${ok.body.id}`);
  });

  it("exactly one target; unknown resources and pools are 404; unknown fields 400", async () => {
    expect((await bad({ text: "hi" })).detail).toMatch(/exactly one of resources, pool or all/);
    await bad({ text: "hi", resources: ["host1"], all: true });
    await bad({ text: "hi", pool: "boards", all: true });
    await bad({ text: "hi", all: false });
    await bad({ text: "hi", resources: [] });
    await bad({ text: "hi", resources: ["nope"] }, 404);
    await bad({ text: "hi", pool: "nope" }, 404);
    await bad({ text: "hi", all: true, colour: "red" });
    await bad({ text: "hi", resources: ["__proto__"] }, 404);
  });

  it("until: an ISO date-time or a duration, in the future, at most 30 days; 24 h by default", async () => {
    await bad({ text: "hi", resources: ["host1"], until: "yesterday" });
    await bad({ text: "hi", resources: ["host1"], until: new Date(Date.now() - 60_000).toISOString() });
    await bad({ text: "hi", resources: ["host1"], until: "31d" });
    await bad({ text: "hi", resources: ["host1"], until: new Date(Date.now() + 31 * 86_400_000).toISOString() });
    await bad({ text: "hi", resources: ["host1"], until: "2027-01-05T09:00" }); // no offset: whose 09:00?
    const d = await api("POST", "/api/v1/notices", { text: "default", resources: ["host1"] });
    expect(Date.parse(d.body.until) - Date.parse(d.body.createdAt)).toBe(24 * 3600_000);
    const h = await api("POST", "/api/v1/notices", { text: "two hours", resources: ["host1"], until: "2h" });
    expect(Date.parse(h.body.until) - Date.parse(h.body.createdAt)).toBe(2 * 3600_000);
    const iso = await api("POST", "/api/v1/notices", { text: "iso", resources: ["host1"], until: "2099-01-01T00:00:00Z" }).then((r) => r.status);
    expect(iso).toBe(400); // beyond 30 days
    const at = new Date(Math.ceil((Date.now() + 3 * 86_400_000) / 1000) * 1000).toISOString();
    const i = await api("POST", "/api/v1/notices", { text: "iso", resources: ["host1"], until: at.replace("Z", "+00:00") });
    expect(i.body.until).toBe(at);
    for (const n of [d, h, i]) await api("DELETE", `/api/v1/notices/${n.body.id}`);
    expect((await api("DELETE", "/api/v1/notices/n-nope")).status).toBe(404);
  });
});

describe("expiry", () => {
  it("a notice ends by itself at `until`: gone from the list and from the resource", async () => {
    const n = await api("POST", "/api/v1/notices", { text: "short one", resources: ["usb1"], until: "5s" });
    expect(n.status).toBe(201);
    expect((await api("GET", "/api/v1/resources/usb1")).body.notices.map((x: { id: string }) => x.id)).toEqual([n.body.id]);
    // Wait for the clock to pass `until` (no API call deletes it).
    while (Date.now() <= Date.parse(n.body.until)) await new Promise((r) => setTimeout(r, 200));
    expect((await api("GET", "/api/v1/notices?resource=usb1")).body.notices).toEqual([]);
    expect((await api("GET", "/api/v1/resources/usb1")).body.notices).toEqual([]);
    // Its calendar event stays as the record, ending at `until`.
    const [ev] = await noticeEvents("usb1", n.body.id);
    expect(ev!.ics).toContain(`DTEND:${n.body.until.replace(/[-:]/g, "").replace(/\.\d+/, "")}`);
    expect((await api("DELETE", `/api/v1/notices/${n.body.id}`)).status).toBe(404);
  });
});

describe("calendar", () => {
  it("is a transparent X-LABHOG-KIND:notice event, never a reservation or a conflict; deleting the notice deletes it", async () => {
    const n = await api("POST", "/api/v1/notices", { text: "kernel update tonight", resources: ["host2"], until: "3h" });
    const [ev] = await noticeEvents("host2", n.body.id);
    expect(ev).toBeDefined();
    const lines = ev!.ics.split("\r\n");
    expect(lines).toContain("TRANSP:TRANSPARENT");
    expect(lines).toContain("X-LABHOG-KIND:notice");
    expect(lines).toContain("SUMMARY:Notice: kernel update tonight");
    // Not a reservation: not listed, the resource is free, and an exclusive booking over it is granted.
    const list = await api("GET", `/api/v1/reservations?resource=host2&from=${enc(inMinutes(-5))}&to=${enc(inMinutes(240))}`);
    expect(list.body.reservations).toEqual([]);
    const res = await api("GET", "/api/v1/resources/host2");
    expect(res.body).toMatchObject({ current: [], next: null, conflicts: 0, unbookedUse: null });
    const b = await api("POST", "/api/v1/reservations", { resource: "host2", duration: "1h" });
    expect(b.status).toBe(201);
    expect((await api("GET", "/api/v1/resources/host2")).body.conflicts).toBe(0);
    await api("POST", `/api/v1/reservations/${enc(b.body.reservation.id)}/release`);
    expect((await api("DELETE", `/api/v1/notices/${n.body.id}`)).status).toBe(200);
    expect(await noticeEvents("host2", n.body.id)).toEqual([]);
  });

  it("a notice for a pool is one event in each resource's calendar", async () => {
    const n = await api("POST", "/api/v1/notices", { text: "boards move racks", pool: "boards" });
    expect((await noticeEvents("b1", n.body.id)).length).toBe(1);
    expect((await noticeEvents("b2", n.body.id)).length).toBe(1);
    const listed = await api("GET", "/api/v1/notices");
    expect(listed.body.notices.find((x: { id: string }) => x.id === n.body.id)).toMatchObject({ resources: ["b1", "b2"], text: "boards move racks" });
    await api("DELETE", `/api/v1/notices/${n.body.id}`);
    expect(await noticeEvents("b1", n.body.id)).toEqual([]);
    expect(await noticeEvents("b2", n.body.id)).toEqual([]);
  });
});

describe("signed schedule", () => {
  const verify = (jws: string, resource: string) => verifySchedule(jws, { keys: { [publicJwk.kid!]: publicJwk }, resources: [resource] });

  it("carries the notice (id, text, until, by), and drops it when deleted", async () => {
    const n = await api("POST", "/api/v1/notices", { text: "reboot at 14:00", resources: ["b1"], until: "4h" });
    const topic = `test/${SITE}/resources/b1/schedule`;
    const withIt = await retainedMatching(topic, async (p) => ((await verify(p, "b1")).notices ?? []).some((x) => x.id === n.body.id));
    const s = await verify(withIt.payload, "b1");
    expect(s.notices).toEqual([{ id: n.body.id, text: "reboot at 14:00", until: n.body.until, by: "alice" }]);
    await api("DELETE", `/api/v1/notices/${n.body.id}`);
    const without = await retainedMatching(topic, async (p) => (await verify(p, "b1")).seq > s.seq && (await verify(p, "b1")).notices === undefined);
    expect((await verify(without.payload, "b1")).notices).toBeUndefined();
  });
});

describe("status page", () => {
  it("shows a standing notice as a banner on its resource, and hides it once deleted", async () => {
    const n = await api("POST", "/api/v1/notices", { text: "host1 <b>goes</b> down at 14:00", resources: ["host1"] });
    const page = await call("/status");
    const csrf = page.headers.getSetCookie().map((c) => c.split(";")[0]!).find((c) => c.startsWith("labhog_csrf="))!.slice("labhog_csrf=".length);
    const signIn = await call("/status/sign-in", { method: "POST", body: new URLSearchParams({ csrf, token: TOKENS.bob }), headers: { cookie: `labhog_csrf=${csrf}`, "content-type": "application/x-www-form-urlencoded" }, redirect: "manual" });
    const session = signIn.headers.getSetCookie().map((c) => c.split(";")[0]!).find((c) => c.startsWith("labhog_session="))!;
    const html = async () => (await call("/status", { headers: { cookie: `labhog_csrf=${csrf}; ${session}` } })).text();
    const h = await html();
    const section = h.slice(h.indexOf('id="r-host1"'), h.indexOf('id="r-host2"'));
    expect(section).toContain(`data-notice="${n.body.id}"`);
    expect(section).toContain("host1 &lt;b&gt;goes&lt;/b&gt; down at 14:00");
    expect(h.slice(h.indexOf('id="r-host2"'))).not.toContain(`data-notice="${n.body.id}"`);
    await api("DELETE", `/api/v1/notices/${n.body.id}`);
    expect(await html()).not.toContain(`data-notice="${n.body.id}"`);
  });
});
