import { beforeAll, describe, expect, it } from "vitest";
import { api, configure } from "./helpers.ts";
import { call } from "./issue5-app.ts";
import { publish } from "./mqtt-tap.ts";

/**
 * What agents report about enforcement (retained on …/agents/<id>/enforcement,
 * published here through the Node-side MQTT tap as an agent would) reaches the
 * Worker's Broker over real Mosquitto and shows on the resources in the API
 * and on the status page. Unknown is never shown as ok.
 */
const SITE = `e${crypto.randomUUID().slice(0, 6)}`;
const PREFIX = `test/${SITE}`;
const REASON = "power: main on step 1 (relay) failed: relay tool exited with code 1";

beforeAll(async () => {
  await configure({ STATUS_PUBLIC: "true" }, { site: SITE });
});

const report = (resources: Record<string, unknown>, agent = "host1") => publish(`${PREFIX}/agents/${agent}/enforcement`, JSON.stringify({ agent, at: new Date().toISOString(), resources }));

async function resourcesWhen(accept: (byId: Record<string, any>) => boolean): Promise<Record<string, any>> {
  let byId: Record<string, any> = {};
  for (let i = 0; i < 80; i++) {
    const r = await api("GET", "/api/v1/resources");
    expect(r.status).toBe(200);
    byId = Object.fromEntries(r.body.resources.map((x: any) => [x.id, x]));
    if (accept(byId)) return byId;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error(`never matched; last: ${JSON.stringify(Object.fromEntries(Object.entries(byId).map(([k, v]) => [k, v.enforcement])))}`);
}

/** The text of one resource's section on the status page, tags removed, entities decoded. */
async function statusSection(id: string): Promise<string> {
  const html = await (await call("/status")).text();
  const start = html.indexOf(`id="r-${id}"`);
  expect(start, `no section for ${id}`).toBeGreaterThan(0);
  const end = html.indexOf("</section>", start);
  return html
    .slice(start, end)
    .replace(/<[^>]+>/g, "")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

const UNKNOWN = { ok: null, problems: [], since: null, at: null };

describe("enforcement reported by agents", () => {
  it("before any report every resource is unknown (ok: null), not ok", async () => {
    const byId = await resourcesWhen(() => true);
    for (const id of ["host1", "host2", "b1", "lone"]) expect(byId[id].enforcement, id).toEqual(UNKNOWN);
    expect(await statusSection("host1")).toContain("enforcement unknown: the agent has not reported it");
    expect(await statusSection("host1")).not.toContain("✓ enforced");
    // A resource without an agent has nothing to report.
    expect(await statusSection("lone")).not.toContain("enforce");
  });

  it("a failure shows in GET /api/v1/resources, GET /api/v1/resources/{id} and as 'not enforced: …' on /status", async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const at = new Date(Date.now() - 1000).toISOString();
    await report({
      host1: { ok: false, problems: [REASON], since, at, state: "held", holder: "bob", reservation: "r1", failures: 4, retryAt: new Date(Date.now() + 8000).toISOString() },
      b1: { ok: true, problems: [], since, at, state: "free", failures: 0 },
    });
    const byId = await resourcesWhen((b) => b.host1?.enforcement.ok === false);
    expect(byId.host1.enforcement).toEqual({ ok: false, problems: [REASON], since, at });
    expect(byId.b1.enforcement).toEqual({ ok: true, problems: [], since, at });
    // host2's agent has not reported: still unknown.
    expect(byId.host2.enforcement).toEqual(UNKNOWN);
    const one = await api("GET", "/api/v1/resources/host1");
    expect(one.body.enforcement).toEqual({ ok: false, problems: [REASON], since, at });

    const host1 = await statusSection("host1");
    expect(host1).toContain(`not enforced: ${REASON}`);
    expect(host1).not.toContain("✓ enforced");
    expect(await statusSection("b1")).toContain("✓ enforced");
    expect(await statusSection("host2")).toContain("enforcement unknown");
    // The OpenAPI document describes the field.
    const doc = (await api("GET", "/openapi.json")).body;
    expect(Object.keys(doc.components.schemas.Enforcement.properties).sort()).toEqual(["at", "ok", "problems", "since"]);
  });

  it("an agent speaks only for its own resources; ok with problems reads as not ok; a cleared report is unknown again", async () => {
    const t = new Date().toISOString();
    // host2 serves b2 and usb1, not host1: its word on host1 is ignored.
    await report({ host1: { ok: true, problems: [], since: t, at: t }, b2: { ok: true, problems: ["usb: probe: 1a86:7523 is not plugged in"], since: t, at: t }, usb1: { ok: "yes", problems: [], since: t } }, "host2");
    const byId = await resourcesWhen((b) => b.b2?.enforcement.ok !== null);
    expect(byId.b2.enforcement).toEqual({ ok: false, problems: ["usb: probe: 1a86:7523 is not plugged in"], since: t, at: t });
    expect(byId.usb1.enforcement).toEqual(UNKNOWN);
    expect(byId.host1.enforcement.ok).toBe(false);

    // host1's agent recovers.
    const later = new Date().toISOString();
    await report({ host1: { ok: true, problems: [], since: later, at: later, state: "held" } });
    const fixed = await resourcesWhen((b) => b.host1?.enforcement.ok === true);
    expect(fixed.host1.enforcement).toEqual({ ok: true, problems: [], since: later, at: later });
    expect(await statusSection("host1")).not.toContain("not enforced");

    // The agent goes offline (its last will): its last word may no longer hold, so unknown, with that word kept.
    await report({ host1: { ok: false, problems: [REASON], since: later, at: later } });
    await resourcesWhen((b) => b.host1?.enforcement.ok === false);
    await publish(`${PREFIX}/agents/host1/status`, "offline");
    const offline = await resourcesWhen((b) => b.host1?.agent.status === "offline");
    expect(offline.host1.enforcement).toEqual({ ok: null, problems: [REASON], since: later, at: later });
    expect(await statusSection("host1")).toMatch(new RegExp(`enforcement unknown: agent offline \\(last report .+: not enforced: ${REASON.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\)`));
    await publish(`${PREFIX}/agents/host1/status`, "online");
    expect((await resourcesWhen((b) => b.host1?.agent.status === "online")).host1.enforcement.ok).toBe(false);

    await publish(`${PREFIX}/agents/host1/enforcement`, "");
    const cleared = await resourcesWhen((b) => b.host1?.enforcement.ok === null);
    expect(cleared.host1.enforcement).toEqual(UNKNOWN);
    await publish(`${PREFIX}/agents/host2/enforcement`, "");
    await publish(`${PREFIX}/agents/host1/status`, "");
  });
});
