import { env, evictDurableObject, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../worker/auth/tokens.ts";
import type { Env } from "../../worker/env.ts";
import { api, configure, inMinutes, TOKENS } from "./helpers.ts";

const E = env as unknown as Env;

/**
 * A lab whose resources, pool, users, groups and agent are named like
 * Object.prototype members: they are ordinary ids and work end to end.
 * alice's token stands for user `constructor` (admin), bob's for `toString`
 * (book only); the agent token is agent `isPrototypeOf`.
 */
const LAB = `site: proto
calendars:
  default: { backend: memory }
  valueOf: { backend: memory }
pools:
  valueOf: { name: The valueOf pool }
resources:
  constructor: { kind: board, pool: valueOf, agent: isPrototypeOf, tags: { toString: "yes" } }
  toString: { kind: board, pool: valueOf, agent: isPrototypeOf, tags: { toString: "yes", hasOwnProperty: "1" } }
  hasOwnProperty: { kind: host, owner: toString }
  valueOf: { kind: host }
users:
  constructor: { email: ctor@example.com, unix: ctor, groups: [hasOwnProperty] }
  toString: { email: tostring@example.com, unix: tostr, groups: [isPrototypeOf] }
groups:
  hasOwnProperty: { admin: ["*"] }
  isPrototypeOf: { book: ["pool:valueOf", "hasOwnProperty"] }
agents:
  isPrototypeOf: { tokenSecret: AGENT_HOST1_HASH }
`;

beforeAll(async () => {
  await configure({
    LAB_CONFIG: LAB,
    API_TOKENS: JSON.stringify({ [await sha256Hex(TOKENS.alice)]: "user:constructor", [await sha256Hex(TOKENS.bob)]: "user:toString", [await sha256Hex(TOKENS.carol)]: "user:valueOf" }),
  });
});

describe("ids named like Object.prototype members, defined in the lab file", () => {
  it("resources are themselves, not Object.prototype's", async () => {
    const all = await api("GET", "/api/v1/resources");
    expect(all.status).toBe(200);
    expect(all.body.resources.map((r: any) => r.id)).toEqual(["constructor", "toString", "hasOwnProperty", "valueOf"]);
    const one = await api("GET", "/api/v1/resources/constructor");
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: "constructor", name: "constructor", kind: "board", pool: "valueOf", tags: { toString: "yes" }, agent: { id: "isPrototypeOf", status: "unknown" } });
    expect((await api("GET", "/api/v1/resources?pool=valueOf")).body.resources.map((r: any) => r.id)).toEqual(["constructor", "toString"]);
    expect((await api("GET", "/api/v1/resources?tag=hasOwnProperty=1")).body.resources.map((r: any) => r.id)).toEqual(["toString"]);
    // Names the file does not define stay unknown.
    expect((await api("GET", "/api/v1/resources/toLocaleString")).status).toBe(404);
    expect((await api("GET", "/api/v1/resources?pool=constructor")).status).toBe(404);
  });

  it("users and groups are themselves: who the caller is and what they may do", async () => {
    const me = await api("GET", "/api/v1/me", undefined, "alice");
    expect(me.body).toMatchObject({ kind: "user", id: "constructor", email: "ctor@example.com", admin: ["constructor", "toString", "hasOwnProperty", "valueOf"] });
    const bob = await api("GET", "/api/v1/me", undefined, "bob");
    expect(bob.body).toMatchObject({ id: "toString", book: ["constructor", "toString", "hasOwnProperty"], admin: [] });
    // A token mapped to a user the file does not define is no principal at all.
    expect((await api("GET", "/api/v1/me", undefined, "carol")).status).toBe(401);
  });

  it("books, reads, extends and cancels on resource `constructor` for user `constructor`", async () => {
    const created = await api("POST", "/api/v1/reservations", { resource: "constructor", start: inMinutes(60), duration: "30m", purpose: "proto" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.reservation.id as string;
    expect(id.startsWith("constructor:")).toBe(true);
    expect(created.body.reservation).toMatchObject({ resource: "constructor", holder: { id: "constructor" }, purpose: "proto" });
    const got = await api("GET", `/api/v1/reservations/${encodeURIComponent(id)}`);
    expect(got.status).toBe(200);
    expect(got.body.holder.id).toBe("constructor");
    const listed = await api("GET", `/api/v1/reservations?resource=constructor&holder=constructor`);
    expect(listed.body.reservations.map((r: any) => r.id)).toEqual([id]);
    const extended = await api("PATCH", `/api/v1/reservations/${encodeURIComponent(id)}`, { extendBy: "15m" });
    expect(extended.status).toBe(200);
    expect(Date.parse(extended.body.end) - Date.parse(extended.body.start)).toBe(45 * 60_000);
    expect((await api("DELETE", `/api/v1/reservations/${encodeURIComponent(id)}`)).status).toBe(200);
    // Its ledger exists: it is a real resource.
    const ids = new Set((await listDurableObjectIds(E.LEDGER)).map((x) => x.toString()));
    expect(ids.has(E.LEDGER.idFromName("constructor").toString())).toBe(true);
  });

  it("books any of pool `valueOf`, by tag `toString`, and for user `toString` as an admin", async () => {
    const byPool = await api("POST", "/api/v1/reservations", { pool: "valueOf", start: inMinutes(200), duration: "10m" }, "bob");
    expect(byPool.status, JSON.stringify(byPool.body)).toBe(201);
    expect(["constructor", "toString"]).toContain(byPool.body.reservation.resource);
    expect(byPool.body.reservation.holder.id).toBe("toString");
    const byTag = await api("POST", "/api/v1/reservations", { tags: { toString: "yes", hasOwnProperty: "1" }, start: inMinutes(300), duration: "10m" }, "bob");
    expect(byTag.status, JSON.stringify(byTag.body)).toBe(201);
    expect(byTag.body.reservation.resource).toBe("toString");
    const forOther = await api("POST", "/api/v1/reservations", { resource: "valueOf", holder: "toString", start: inMinutes(400), duration: "10m" }, "alice");
    expect(forOther.status, JSON.stringify(forOther.body)).toBe(201);
    expect(forOther.body.reservation.holder.id).toBe("toString");
    // bob (user toString) may book only what his group allows: not `valueOf`.
    expect((await api("POST", "/api/v1/reservations", { resource: "valueOf", start: inMinutes(500) }, "bob")).status).toBe(403);
    // A holder the file does not define is refused, whatever its name.
    const bad = await api("POST", "/api/v1/reservations", { resource: "valueOf", holder: "hasOwnProperty", start: inMinutes(600) }, "alice");
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toBe("unknown user hasOwnProperty");
  });

  it("agent `isPrototypeOf` reports usage for the resources it serves, and only those", async () => {
    const at = new Date().toISOString();
    const ok = await api("POST", "/api/v1/agents/isPrototypeOf/usage", { agent: "isPrototypeOf", at, resources: { constructor: { sessions: [] } } }, "agent");
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
    expect(ok.body.accepted).toEqual(["constructor"]);
    const not = await api("POST", "/api/v1/agents/isPrototypeOf/usage", { agent: "isPrototypeOf", at, resources: { valueOf: { sessions: [] } } }, "agent");
    expect(not.status).toBe(403);
    expect(not.body.detail).toBe("agent isPrototypeOf does not serve valueOf");
  });

  it("feeds serve resource `constructor` and pool `valueOf` under their own names", async () => {
    const feed = await api("GET", "/feeds/constructor.ics");
    expect(feed.status).toBe(200);
    expect(feed.body).toContain("X-WR-CALNAME:labhog proto: constructor");
    const pool = await api("GET", "/feeds/pool/valueOf.ics");
    expect(pool.status).toBe(200);
    expect(pool.body).toContain("X-WR-CALNAME:labhog proto: The valueOf pool");
    expect((await api("GET", "/feeds/toLocaleString.ics")).status).toBe(404);
  });

  it("a ledger left behind for an id the lab does not define stops its alarm instead of failing on every one", async () => {
    // As an older Worker left it: bound to `toLocaleString` (not in this lab), with an alarm set.
    const stub = E.LEDGER.get(E.LEDGER.idFromName("toLocaleString"));
    await runInDurableObject(stub, async (_o, state) => {
      await state.storage.put("meta", { resource: "toLocaleString", syncToken: null, lastSyncAt: 0, seq: 0, publishPending: false, publishedAt: 0 });
      await state.storage.setAlarm(Date.now() + 3_600_000);
    });
    await evictDurableObject(stub);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())).toBeNull();
    // A real resource's ledger keeps its alarm after one runs.
    const real = E.LEDGER.get(E.LEDGER.idFromName("valueOf"));
    expect((await api("GET", "/api/v1/resources/valueOf")).status).toBe(200);
    await runDurableObjectAlarm(real);
    expect(await runInDurableObject(real, (_o, state) => state.storage.getAlarm())).not.toBeNull();
  });
});
