import { beforeAll, describe, expect, it } from "vitest";
import { env, listDurableObjectIds } from "cloudflare:test";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { NotFoundError } from "../../calendar/errors.ts";
import { calendarKeyOf, isResource, isUser } from "../../calendar/lab.ts";
import { canBook, isAdmin } from "../../worker/auth/rights.ts";
import { effectiveEnv, type Env } from "../../worker/env.ts";
import { labOf } from "../../worker/lab.ts";
import { ledgerOf } from "../../worker/ledger/client.ts";
import { api, configure, enc, inMinutes } from "./helpers.ts";

const E = env as unknown as Env;

beforeAll(async () => {
  await configure({}, { mqtt: false });
});

const isProblem = (r: { status: number; body: any; headers: Headers }, status: number) => {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toContain("application/problem+json");
  expect(r.body.status).toBe(status);
  expect(typeof r.body.type).toBe("string");
  expect(typeof r.body.title).toBe("string");
};

describe("resources", () => {
  it("lists resources with live state", async () => {
    const r = await api("GET", "/api/v1/resources");
    expect(r.status).toBe(200);
    const ids = r.body.resources.map((x: any) => x.id);
    expect(ids).toEqual(["host1", "host2", "b1", "b2", "usb1", "lone", "secret"]);
    const h1 = r.body.resources[0];
    expect(h1).toMatchObject({ kind: "host", agent: { id: "host1", status: "unknown" }, current: [], next: null });
  });
  it("filters by pool and tag", async () => {
    expect((await api("GET", "/api/v1/resources?pool=boards")).body.resources.map((x: any) => x.id)).toEqual(["b1", "b2"]);
    expect((await api("GET", "/api/v1/resources?tag=soc=rk3588")).body.resources.map((x: any) => x.id)).toEqual(["b1", "b2"]);
    isProblem(await api("GET", "/api/v1/resources?tag=nonsense"), 400);
    isProblem(await api("GET", "/api/v1/resources?pool=nope"), 404);
    isProblem(await api("GET", "/api/v1/resources?bogus=1"), 400);
  });
  it("gets one, 404 for unknown", async () => {
    const r = await api("GET", "/api/v1/resources/host2");
    expect(r.status).toBe(200);
    expect(r.body.id).toBe("host2");
    isProblem(await api("GET", "/api/v1/resources/nope"), 404);
    isProblem(await api("GET", "/api/v1/resources/..%2F..%2Fetc"), 400);
  });
});

describe("reservations", () => {
  it("creates, reads, lists, extends, shortens, moves, releases, cancels", async () => {
    const c = await api("POST", "/api/v1/reservations", { resource: "host1", duration: "1h", purpose: "kernel bisect" });
    expect(c.status).toBe(201);
    const r = c.body.reservation;
    expect(r).toMatchObject({ resource: "host1", holder: { id: "alice" }, exclusive: true, purpose: "kernel bisect", state: "active" });
    expect(r.id.startsWith("host1:")).toBe(true);
    expect(Date.parse(r.end) - Date.parse(r.start)).toBe(3_600_000);

    expect((await api("GET", `/api/v1/reservations/${enc(r.id)}`)).body.id).toBe(r.id);
    expect((await api("GET", "/api/v1/reservations?resource=host1")).body.reservations.map((x: any) => x.id)).toContain(r.id);
    expect((await api("GET", "/api/v1/reservations?holder=alice")).body.reservations.map((x: any) => x.id)).toContain(r.id);
    expect((await api("GET", "/api/v1/reservations?holder=bob")).body.reservations.map((x: any) => x.id)).not.toContain(r.id);

    const ext = await api("PATCH", `/api/v1/reservations/${enc(r.id)}`, { extendBy: "30m" });
    expect(ext.status).toBe(200);
    expect(Date.parse(ext.body.end)).toBe(Date.parse(r.end) + 1_800_000);
    const shorter = await api("PATCH", `/api/v1/reservations/${enc(r.id)}`, { end: inMinutes(20) });
    expect(shorter.status).toBe(200);
    isProblem(await api("PATCH", `/api/v1/reservations/${enc(r.id)}`, { start: inMinutes(100) }), 409); // running: can't move
    isProblem(await api("DELETE", `/api/v1/reservations/${enc(r.id)}`), 409); // running: release, not cancel

    const rel = await api("POST", `/api/v1/reservations/${enc(r.id)}/release`);
    expect(rel.status).toBe(200);
    expect(rel.body.state).toBe("ended");
    const after = await api("GET", "/api/v1/resources/host1");
    expect(after.body.current).toEqual([]);
    expect([404, 409]).toContain((await api("POST", `/api/v1/reservations/${enc(r.id)}/release`)).status);

    const future = await api("POST", "/api/v1/reservations", { resource: "host1", start: inMinutes(120), end: inMinutes(180) });
    expect(future.status).toBe(201);
    const fid = future.body.reservation.id;
    const moved = await api("PATCH", `/api/v1/reservations/${enc(fid)}`, { start: inMinutes(240) });
    expect(moved.status).toBe(200);
    expect(Date.parse(moved.body.end) - Date.parse(moved.body.start)).toBe(3_600_000);
    expect((await api("GET", "/api/v1/resources/host1")).body.next.id).toBe(fid);
    expect((await api("DELETE", `/api/v1/reservations/${enc(fid)}`)).status).toBe(200);
    isProblem(await api("GET", `/api/v1/reservations/${enc(fid)}`), 404);
  });

  it("409 names the conflicting reservation and the next free slot", async () => {
    const a = await api("POST", "/api/v1/reservations", { resource: "host2", start: inMinutes(60), end: inMinutes(120) });
    expect(a.status).toBe(201);
    const b = await api("POST", "/api/v1/reservations", { resource: "host2", start: inMinutes(90), end: inMinutes(150) }, "bob");
    isProblem(b, 409);
    expect(b.body.conflicts.map((c: any) => c.id)).toEqual([a.body.reservation.id]);
    expect(Date.parse(b.body.nextFree.start)).toBe(Date.parse(a.body.reservation.end));
    // shared bookings may overlap shared ones, never exclusive ones
    const s1 = await api("POST", "/api/v1/reservations", { resource: "host2", start: inMinutes(300), end: inMinutes(360), exclusive: false });
    const s2 = await api("POST", "/api/v1/reservations", { resource: "host2", start: inMinutes(300), end: inMinutes(360), exclusive: false }, "bob");
    expect([s1.status, s2.status]).toEqual([201, 201]);
    isProblem(await api("POST", "/api/v1/reservations", { resource: "host2", start: inMinutes(330), end: inMinutes(400) }), 409);
  });

  it("books any free one from a pool or a tag filter", async () => {
    const one = await api("POST", "/api/v1/reservations", { pool: "boards", duration: 600 });
    const two = await api("POST", "/api/v1/reservations", { tags: { soc: "rk3588" }, duration: 600 }, "bob");
    expect([one.status, two.status]).toEqual([201, 201]);
    expect(new Set([one.body.reservation.resource, two.body.reservation.resource])).toEqual(new Set(["b1", "b2"]));
    const three = await api("POST", "/api/v1/reservations", { pool: "boards", duration: 600 });
    isProblem(three, 409);
    expect(three.body.conflicts).toHaveLength(2);
    expect(three.body.nextFree).not.toBeNull();
  });

  it("books several resources atomically: all or none", async () => {
    const busy = await api("POST", "/api/v1/reservations", { resource: "lone", start: inMinutes(600), end: inMinutes(660) }, "bob");
    expect(busy.status).toBe(201);
    const both = await api("POST", "/api/v1/reservations", { resources: ["usb1", "lone"], start: inMinutes(610), end: inMinutes(620) });
    isProblem(both, 409);
    const usb = await api("GET", `/api/v1/reservations?resource=usb1&from=${enc(inMinutes(600))}&to=${enc(inMinutes(700))}`);
    expect(usb.body.reservations).toEqual([]); // nothing left behind on the free one
    const ok = await api("POST", "/api/v1/reservations", { resources: ["usb1", "lone"], start: inMinutes(700), end: inMinutes(720) });
    expect(ok.status).toBe(201);
    expect(ok.body.reservations.map((r: any) => r.resource)).toEqual(["usb1", "lone"]);
  });
});

describe("rights", () => {
  it("needs authentication", async () => {
    const r = await api("GET", "/api/v1/resources", undefined, null);
    isProblem(r, 401);
    expect(r.headers.get("www-authenticate")).toContain("Bearer");
    isProblem(await api("GET", "/api/v1/resources", undefined, null, { authorization: "Bearer nope" }), 401);
    isProblem(await api("GET", "/api/v1/resources", undefined, null, { authorization: "Basic Zm9vOmJhcg==" }), 401);
  });
  it("books only what groups allow; admins act for others", async () => {
    isProblem(await api("POST", "/api/v1/reservations", { resource: "secret", duration: 60 }, "bob"), 403);
    isProblem(await api("POST", "/api/v1/reservations", { resource: "host1", start: inMinutes(900), duration: 60 }, "carol"), 403);
    isProblem(await api("POST", "/api/v1/reservations", { resource: "host1", start: inMinutes(900), duration: 60, holder: "alice" }, "bob"), 403);
    const forBob = await api("POST", "/api/v1/reservations", { resource: "secret", start: inMinutes(900), duration: 60, holder: "bob" }, "alice");
    expect(forBob.status).toBe(201);
    expect(forBob.body.reservation.holder.id).toBe("bob");
    const mine = await api("POST", "/api/v1/reservations", { resource: "host1", start: inMinutes(1000), duration: 60 }, "bob");
    isProblem(await api("PATCH", `/api/v1/reservations/${enc(mine.body.reservation.id)}`, { extendBy: 60 }, "carol"), 403);
    expect((await api("PATCH", `/api/v1/reservations/${enc(mine.body.reservation.id)}`, { extendBy: 60 }, "alice")).status).toBe(200);
    // agents may read but not book
    expect((await api("GET", "/api/v1/resources", undefined, "agent")).status).toBe(200);
    isProblem(await api("POST", "/api/v1/reservations", { resource: "host1", start: inMinutes(1100), duration: 60 }, "agent"), 403);
  });
});

describe("bad and hostile input never 500", () => {
  const bad: Array<[string, string, unknown, number]> = [
    ["POST", "/api/v1/reservations", { resource: "host1", nope: 1 }, 400],
    ["POST", "/api/v1/reservations", "{not json", 400],
    ["POST", "/api/v1/reservations", "[]", 400],
    ["POST", "/api/v1/reservations", "null", 400],
    ["POST", "/api/v1/reservations", { resource: "host1", resources: ["host2"] }, 400],
    ["POST", "/api/v1/reservations", {}, 400],
    ["POST", "/api/v1/reservations", { resource: "host1", start: "yesterday" }, 400],
    ["POST", "/api/v1/reservations", { resource: "host1", start: inMinutes(10), end: inMinutes(5) }, 400],
    ["POST", "/api/v1/reservations", { resource: "host1", end: "2001-01-01T00:00:00Z" }, 400],
    ["POST", "/api/v1/reservations", { resource: "host1", duration: "forever" }, 400],
    ["POST", "/api/v1/reservations", { resource: "host1", duration: "400d" }, 400],
    ["POST", "/api/v1/reservations", { resource: "host1", image: "x; rm -rf /" }, 400],
    ["POST", "/api/v1/reservations", { resource: "host1", mode: "$(reboot)" }, 400],
    ["POST", "/api/v1/reservations", { resource: "../../etc/passwd" }, 400],
    ["POST", "/api/v1/reservations", { resource: "nope" }, 404],
    ["POST", "/api/v1/reservations", { pool: "nope" }, 404],
    ["POST", "/api/v1/reservations", { resource: "host1", holder: "mallory", start: inMinutes(5000) }, 400],
    ["POST", "/api/v1/reservations", { resource: "host1", purpose: "x".repeat(501) }, 400],
    ["POST", "/api/v1/reservations", { resource: "host1", wait: 10_000 }, 400],
    ["POST", "/api/v1/reservations", { resource: "host1", lease: { ttl: 1 } }, 400],
    // Hand-built: JSON.stringify of an object literal drops `__proto__` (the literal sets the prototype instead).
    ["POST", "/api/v1/reservations", '{"resource": "host1", "__proto__": {"admin": true}, "constructor": 1}', 400],
    ["POST", "/api/v1/reservations", "x".repeat(70_000), 413],
    ["PATCH", "/api/v1/reservations/host1:nope", {}, 400],
    ["PATCH", "/api/v1/reservations/host1:nope", { end: inMinutes(5), extendBy: 5 }, 400],
    ["PATCH", "/api/v1/reservations/host1:nope", { end: inMinutes(5) }, 404],
    ["GET", "/api/v1/reservations/no-colon", undefined, 404],
    ["GET", "/api/v1/reservations/nope:x", undefined, 404],
    ["GET", `/api/v1/reservations/host1:${enc("\u0000<script>")}`, undefined, 404],
    ["GET", "/api/v1/reservations?from=2020-01-01T00:00:00Z&to=2010-01-01T00:00:00Z", undefined, 400],
    ["GET", "/api/v1/reservations?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z", undefined, 400],
    ["GET", "/api/v1/reservations?resource=nope", undefined, 404],
    ["GET", "/api/v1/reservations?from=garbage", undefined, 400],
    ["POST", "/api/v1/reservations/host1:nope/keepalive", undefined, 404],
    ["GET", "/api/v1/nothing-here", undefined, 404],
    ["GET", "/nothing", undefined, 404],
    ["PUT", "/api/v1/reservations", {}, 405],
    ["DELETE", "/api/v1/resources/host1", undefined, 405],
  ];
  it.each(bad.map(([m, p, b, st]) => [m, p.slice(0, 80), st, JSON.stringify(b ?? null).slice(0, 60), b, p] as const))("%s %s → %i (%s)", async (method, _short, status, _label, body, path) => {
    const r = await api(method, path, body);
    isProblem(r, status);
    if (status === 400 && method !== "GET") expect(r.body.detail).toBeTruthy();
  });
  it("validation problems name the path and the reason", async () => {
    const r = await api("POST", "/api/v1/reservations", { resource: "host1", exclusive: "yes", extra: true });
    isProblem(r, 400);
    const paths = r.body.errors.map((e: any) => e.path);
    expect(paths).toContain("body.exclusive");
    expect(r.body.errors.some((e: any) => /extra/.test(e.message) || /extra/.test(e.path))).toBe(true);
  });
  it("405 says what is allowed", async () => {
    const r = await api("PUT", "/api/v1/reservations/host1:x");
    isProblem(r, 405);
    expect(r.headers.get("allow")).toMatch(/GET/);
  });
});

/** Every name Object.prototype answers to (`__proto__` is one of them). */
const PROTO_NAMES = [...new Set([...Object.getOwnPropertyNames(Object.prototype), "__proto__"])];
/** API ids start with a letter or digit: the others fail validation before any lookup. */
const isIdShaped = (n: string) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(n);
/** JSON text with the keys exactly as given (an object literal would lose `__proto__`). */
const jsonObject = (...entries: Array<[string, unknown]>) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${v instanceof RawJson ? v.text : JSON.stringify(v)}`).join(", ")}}`;
class RawJson {
  constructor(readonly text: string) {}
}

/** Ledger Durable Objects that exist (created and given storage) in this test run, by id. */
async function ledgerIds(): Promise<Set<string>> {
  return new Set((await listDurableObjectIds(E.LEDGER)).map((id) => id.toString()));
}
const ledgerIdOf = (name: string) => E.LEDGER.idFromName(name).toString();

describe("ids named like Object.prototype members (none is in this lab)", () => {
  it("the names and the JSON sent are what they claim", () => {
    expect(PROTO_NAMES).toEqual(expect.arrayContaining(["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "__defineGetter__", "__lookupSetter__"]));
    const body = JSON.parse(jsonObject(["__proto__", new RawJson(jsonObject(["__proto__", "x"]))]));
    expect(Object.hasOwn(body, "__proto__")).toBe(true);
    expect(Object.hasOwn(body.__proto__, "__proto__")).toBe(true);
  });

  const far = (n: number) => new Date(Date.now() + (400 + n) * 86_400_000).toISOString();
  const cases: Array<[string, string, string | undefined, number, "alice" | "agent"]> = [];
  PROTO_NAMES.forEach((n, i) => {
    const id = isIdShaped(n);
    const idStatus = id ? 404 : 400;
    cases.push(
      ["GET", `/api/v1/resources/${enc(n)}`, undefined, idStatus, "alice"],
      ["GET", `/api/v1/resources?pool=${enc(n)}`, undefined, idStatus, "alice"],
      ["GET", `/api/v1/resources?${enc(n)}=1`, undefined, 400, "alice"],
      ["GET", `/api/v1/reservations?resource=${enc(n)}`, undefined, idStatus, "alice"],
      ["GET", `/api/v1/reservations?pool=${enc(n)}`, undefined, idStatus, "alice"],
      ["GET", `/api/v1/reservations/${enc(`${n}:x`)}`, undefined, 404, "alice"],
      ["GET", `/api/v1/reservations/${enc(`host1:${n}`)}`, undefined, 404, "alice"],
      ["PATCH", `/api/v1/reservations/${enc(`${n}:x`)}`, jsonObject(["end", far(i)]), 404, "alice"],
      ["PATCH", `/api/v1/reservations/${enc(`host1:${n}`)}`, jsonObject(["end", far(i)]), 404, "alice"],
      ["DELETE", `/api/v1/reservations/${enc(`${n}:x`)}`, undefined, 404, "alice"],
      ["DELETE", `/api/v1/reservations/${enc(`host1:${n}`)}`, undefined, 404, "alice"],
      ["POST", `/api/v1/reservations/${enc(`${n}:x`)}/release`, undefined, 404, "alice"],
      ["POST", `/api/v1/reservations/${enc(`${n}:x`)}/keepalive`, undefined, 404, "alice"],
      ["POST", `/api/v1/reservations/${enc(`host1:${n}`)}/keepalive`, undefined, 404, "alice"],
      ["POST", "/api/v1/reservations", jsonObject(["resource", n], ["start", far(i)]), idStatus, "alice"],
      ["POST", "/api/v1/reservations", jsonObject(["resources", ["host1", n]], ["start", far(i)]), idStatus, "alice"],
      ["POST", "/api/v1/reservations", jsonObject(["pool", n], ["start", far(i)]), idStatus, "alice"],
      // A tag no resource has: nothing matches. `__proto__` is refused (zod would drop it and match on `soc` alone).
      ["POST", "/api/v1/reservations", jsonObject(["tags", new RawJson(jsonObject([n, "x"]))], ["start", far(i)]), n === "__proto__" ? 400 : 404, "alice"],
      ["POST", "/api/v1/reservations", jsonObject(["tags", new RawJson(jsonObject(["soc", "rk3588"], [n, "x"]))], ["start", far(i)]), n === "__proto__" ? 400 : 404, "alice"],
      ["POST", "/api/v1/reservations", jsonObject(["tags", new RawJson(jsonObject(["soc", n]))], ["start", far(i)]), 404, "alice"],
      // alice is an admin: she may book for others, but only for users the lab file names.
      ["POST", "/api/v1/reservations", jsonObject(["resource", "host1"], ["holder", n], ["start", far(i)]), 400, "alice"],
      ["POST", "/api/v1/reservations", jsonObject(["resource", "host1"], [n, 1], ["start", far(i)]), 400, "alice"],
      ["POST", "/api/v1/reservations", jsonObject(["resource", "host1"], [n, new RawJson(jsonObject(["holder", "bob"]))], ["start", far(i)]), 400, "alice"],
      ["PATCH", "/api/v1/reservations/host1:x", jsonObject([n, new RawJson(jsonObject(["end", far(i)]))]), 400, "alice"],
      ["POST", `/api/v1/agents/${enc(n)}/usage`, jsonObject(["agent", n], ["at", new Date().toISOString()], ["resources", new RawJson("{}")]), id ? 403 : 400, "agent"],
      ["POST", "/api/v1/agents/host1/usage", jsonObject(["agent", "host1"], ["at", new Date().toISOString()], ["resources", new RawJson(jsonObject([n, new RawJson("{}")]))]), n === "__proto__" ? 400 : id ? 403 : 400, "agent"],
    );
  });
  it.each(cases.map(([m, p, b, st, who]) => [m, decodeURIComponent(p), st, (b ?? "").slice(0, 90), p, b, who] as const))("%s %s → %i %s", async (method, _label, status, _body, path, body, who) => {
    const r = await api(method, path, body, who);
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    expect(r.headers.get("content-type")).toContain("application/problem+json");
    expect(r.body.status).toBe(status);
    expect(r.body.detail).toBeTruthy();
    if (body?.includes(', "holder": ') && status === 400) expect(r.body.detail).toMatch(/unknown user|holder/);
  });

  it("the lookups hold on plain-object records too (the parsed lab has none), and no ledger is reachable", () => {
    const lab = labOf(effectiveEnv(E));
    const plain: LabConfig = { ...lab, resources: { ...lab.resources }, users: { ...lab.users }, groups: { ...lab.groups }, pools: { ...lab.pools }, agents: { ...lab.agents }, calendars: { ...lab.calendars } };
    expect(Object.getPrototypeOf(plain.users)).toBe(Object.prototype);
    for (const n of PROTO_NAMES) {
      const p = { kind: "user", id: n, via: "token" } as const;
      expect(canBook(p, plain, "host1"), n).toBe(false);
      expect(isAdmin(p, plain, "host1"), n).toBe(false);
      expect(isResource(plain, n), n).toBe(false);
      expect(isUser(plain, n), n).toBe(false);
      expect(calendarKeyOf(plain, n), n).toBe("default");
      expect(() => ledgerOf(effectiveEnv(E), n), n).toThrow(NotFoundError);
    }
  });

  it("a query tag filter with such a name matches nothing (and is no error)", async () => {
    for (const n of PROTO_NAMES) {
      for (const q of [`tag=${enc(n)}%3Dx`, `tag=soc%3D${enc(n)}`, `tag=soc%3Drk3588&tag=${enc(n)}%3Dx`]) {
        const r = await api("GET", `/api/v1/resources?${q}`);
        expect(r.status, `${n}: ${q}`).toBe(200);
        expect(r.body.resources, `${n}: ${q}`).toEqual([]);
      }
      const h = await api("GET", `/api/v1/reservations?holder=${enc(n)}`);
      expect(h.status, n).toBe(isIdShaped(n) ? 200 : 400);
      if (h.status === 200) expect(h.body.reservations).toEqual([]);
    }
  });

  it("feeds answer 404 for such resources and pools", async () => {
    for (const n of PROTO_NAMES.filter(isIdShaped)) {
      for (const path of [`/feeds/${n}.ics`, `/feeds/pool/${n}.ics`]) {
        const r = await api("GET", path);
        expect(r.status, path).toBe(404);
      }
    }
  });

  it("no ledger Durable Object was created for any of them, while real resources have one", async () => {
    expect((await api("GET", "/api/v1/resources/host1")).status).toBe(200);
    const ids = await ledgerIds();
    expect(ids.has(ledgerIdOf("host1"))).toBe(true);
    for (const n of PROTO_NAMES) expect(ids.has(ledgerIdOf(n)), n).toBe(false);
  });
});

describe("openapi", () => {
  it("serves the document generated from the schemas", async () => {
    const r = await api("GET", "/openapi.json", undefined, null);
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe("3.1.0");
    expect(Object.keys(r.body.paths)).toEqual(expect.arrayContaining(["/api/v1/resources", "/api/v1/reservations", "/api/v1/reservations/{id}", "/api/v1/reservations/{id}/keepalive"]));
    expect(r.body.components.schemas.CreateReservation.additionalProperties).toBe(false);
  });
});

describe("fuzzing: nothing a client sends gets a 500", () => {
  it("random bodies, paths and headers", async () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T,>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const atoms: unknown[] = [null, true, 0, -1, 1e308, "", "host1", "b1", "x".repeat(3000), "2026-13-45T99:99:99Z", "\u0000\ud800", ...PROTO_NAMES, [], {}, { $gt: "" }, "PT999999H", "1d", -5, 3.5];
    // Object.fromEntries keeps a `__proto__` key as an own property, so JSON.stringify sends it.
    const keys = ["resource", "resources", "pool", "tags", "start", "end", "duration", "exclusive", "purpose", "image", "mode", "holder", "lease", "wait", "extendBy", ...PROTO_NAMES, "x"];
    const value = (depth: number): unknown => (depth > 2 || rnd() < 0.6 ? pick(atoms) : rnd() < 0.5 ? Array.from({ length: 3 }, () => value(depth + 1)) : Object.fromEntries(Array.from({ length: 3 }, () => [pick(keys), value(depth + 1)])));
    const paths = ["/api/v1/reservations", "/api/v1/reservations/host1:x", "/api/v1/reservations/host1:x/release", "/api/v1/reservations/host1:x/keepalive", "/api/v1/resources", "/api/v1/resources/host1", `/api/v1/reservations/${enc("host1:" + "%".repeat(5))}`, "/api/v1/reservations?from=" + enc("\u0000"), "/api/v1/resources?tag=" + "a=".repeat(200), ...PROTO_NAMES.flatMap((n) => [`/api/v1/resources/${enc(n)}`, `/api/v1/reservations/${enc(n + ":x")}`, `/api/v1/reservations/${enc("host1:" + n)}/release`, `/api/v1/reservations?resource=${enc(n)}`])];
    expect(JSON.stringify(Object.fromEntries([["__proto__", 1]]))).toBe('{"__proto__":1}');
    for (let i = 0; i < 300; i++) {
      const body = Object.fromEntries(Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => [pick(keys), value(0)]));
      const method = pick(["GET", "POST", "PATCH", "DELETE", "PUT"]);
      const r = await api(method, pick(paths), method === "GET" ? undefined : rnd() < 0.8 ? body : "\u0000{{", pick(["alice", "bob", "carol", null]), rnd() < 0.2 ? { "content-type": "text/plain" } : {});
      expect(r.status, JSON.stringify(body).slice(0, 200)).toBeLessThan(500);
      expect(r.headers.get("content-type")).toMatch(/json/);
    }
    const ids = await ledgerIds();
    for (const n of PROTO_NAMES) expect(ids.has(ledgerIdOf(n)), `a ledger for ${n}`).toBe(false);
  });
});

describe("500", () => {
  it("an unexpected error is problem JSON without internals", async () => {
    const { createApp } = await import("../../worker/api/app.ts");
    const app = createApp();
    app.get("/boom", () => {
      throw new Error("secret internals: password=hunter2");
    });
    const r = await app.request("/boom");
    expect(r.status).toBe(500);
    expect(r.headers.get("content-type")).toContain("application/problem+json");
    const body = await r.text();
    expect(JSON.parse(body)).toMatchObject({ status: 500, title: "Internal Server Error" });
    expect(body).not.toContain("hunter2");
  });
});
