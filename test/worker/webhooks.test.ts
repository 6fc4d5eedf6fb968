import { env, SELF } from "cloudflare:test";
import { inject } from "vitest";
import { beforeAll, describe, expect, it } from "vitest";
import { api, configure, enc, labYaml, testEnv, TOKENS } from "./helpers.ts";
import { appIcs, davServers } from "./dav.ts";
import { publish } from "./mqtt-tap.ts";

/**
 * Outgoing webhooks from the real ledger: bookings through the API, an
 * event a calendar app writes into real Radicale, the clock, and an agent's
 * enforcement report over real Mosquitto each reach a receiver on loopback
 * (test/webhooks/receiver-service.ts) that checks every signature with the
 * Standard Webhooks reference library.
 */
const E = env as unknown as { LEDGER: DurableObjectNamespace };
const SITE = `w${crypto.randomUUID().slice(0, 6)}`;
const RECEIVER = inject("webhookReceiverUrl");
const hook = (name: string) => `${RECEIVER}/hook/${SITE}-${name}`;
const radicale = davServers().find((s) => s.name === "radicale")!;
let appCal: string;

beforeAll(async () => {
  appCal = await radicale.mkcalendar(`${SITE}-app`);
  const lab = labYaml({
    site: SITE,
    calendars: `  default: { backend: memory }\n  app: ${radicale.calendarYaml(appCal)}`,
    resources: `  host1: { kind: host, agent: host1 }\n  host2: { kind: host, agent: host2 }\n  app: { kind: host, agent: host1, calendar: app }`,
    syncInterval: "1h",
  }).replace("policy:\n", "policy:\n  noShowGrace: 2s\n");
  const webhooks = `webhooks:
  all: { url: "${hook("all")}", secretSecret: WEBHOOK_SECRET }
  conflicts: { url: "${hook("conflicts")}", secretSecret: WEBHOOK_SECRET, events: [reservation.conflict], resources: [app] }
  flaky: { url: "${hook("flaky")}", secretSecret: WEBHOOK_SECRET, events: [reservation.created], resources: [host2] }
`;
  await configure({ LAB_CONFIG: lab.replace("policy:\n", `${webhooks}policy:\n`), WEBHOOK_SECRET: inject("webhookSecret"), RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD }, { site: SITE });
});

interface Delivery { id: string; verified: boolean; error?: string; body: any; at: number }
const deliveries = async (name: string): Promise<Delivery[]> => (await (await fetch(`${RECEIVER}/deliveries/${SITE}-${name}`)).json()) as Delivery[];
async function waitFor(name: string, accept: (d: Delivery[]) => boolean, timeoutMs = 20_000): Promise<Delivery[]> {
  const until = Date.now() + timeoutMs;
  let got: Delivery[] = [];
  while (Date.now() < until) {
    got = await deliveries(name);
    if (accept(got)) return got;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${name}: never matched; got ${JSON.stringify(got.map((d) => [d.body?.type, d.body?.data?.reservation?.id, d.verified]))}`);
}
const about = (ds: Delivery[], uid: string) => ds.filter((d) => d.body?.data?.reservation?.id === uid || d.body?.data?.reservation?.id?.endsWith(uid));
const inMin = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

describe("webhooks from the ledger", () => {
  it("an API booking, its change and its cancel: created, changed, ended — signed, in order, in the stable envelope", async () => {
    const made = await api("POST", "/api/v1/reservations", { resource: "host1", start: inMin(60), end: inMin(120), purpose: "webhook test" });
    expect(made.status).toBe(201);
    const uid = made.body.reservation.uid as string;
    await waitFor("all", (d) => about(d, uid).length >= 1);
    const changed = await api("PATCH", `/api/v1/reservations/${enc(made.body.reservation.id)}`, { extendBy: 1800 });
    expect(changed.status).toBe(200);
    await waitFor("all", (d) => about(d, uid).length >= 2);
    expect((await api("DELETE", `/api/v1/reservations/${enc(made.body.reservation.id)}`)).status).toBeLessThan(300);
    const ds = about(await waitFor("all", (d) => about(d, uid).length >= 3), uid);
    expect(ds.map((d) => d.body.type)).toEqual(["reservation.created", "reservation.changed", "reservation.ended"]);
    for (const d of ds) {
      expect(d.verified, d.error).toBe(true);
      expect(d.id).toMatch(/^msg_[0-9a-f]{32}$/);
      expect(Object.keys(d.body).sort()).toEqual(["data", "site", "timestamp", "type"]);
      expect(d.body.site).toBe(SITE);
      expect(d.body.data.resource).toBe("host1");
      expect(Object.keys(d.body.data.reservation).sort()).toEqual(["end", "exclusive", "holder", "id", "purpose", "resource", "source", "start", "state"]);
      expect(d.body.data.reservation).toMatchObject({ resource: "host1", holder: { id: "alice" }, exclusive: true, purpose: "webhook test", source: "api" });
    }
    expect(Date.parse(ds[1]!.body.data.reservation.end) - Date.parse(ds[0]!.body.data.reservation.end)).toBe(1800_000);
    // Filters: the conflicts-only hook heard nothing of this.
    expect(about(await deliveries("conflicts"), uid)).toEqual([]);
  });

  it("the clock: a booking that starts two seconds from now sends started when it starts; releasing it sends ended", async () => {
    const made = await api("POST", "/api/v1/reservations", { resource: "host1", start: new Date(Date.now() + 2000).toISOString(), end: inMin(30) });
    expect(made.status).toBe(201);
    const uid = made.body.reservation.uid as string;
    const started = about(await waitFor("all", (d) => about(d, uid).some((x) => x.body.type === "reservation.started")), uid).find((x) => x.body.type === "reservation.started")!;
    expect(started.verified).toBe(true);
    expect(started.at).toBeGreaterThanOrEqual(Date.parse(made.body.reservation.start));
    expect((await api("POST", `/api/v1/reservations/${enc(made.body.reservation.id)}/release`)).status).toBe(200);
    const ds = about(await waitFor("all", (d) => about(d, uid).some((x) => x.body.type === "reservation.ended")), uid);
    expect(ds.map((d) => d.body.type)).toEqual(["reservation.created", "reservation.started", "reservation.ended"]);
  });

  it("a back-dated event a calendar app puts into Radicale loses to the granted booking: conflict, to the filtered hook too", async () => {
    const granted = await api("POST", "/api/v1/reservations", { resource: "app", start: inMin(180), end: inMin(240) });
    expect(granted.status).toBe(201);
    const uid = `ical-${crypto.randomUUID()}`;
    const put = await radicale.put(appCal, uid, appIcs({ uid, start: new Date(Date.now() + 200 * 60_000), end: new Date(Date.now() + 260 * 60_000), summary: "bob's migration", organizer: "bob@example.com", created: new Date("2019-03-01T08:00:00Z") }));
    expect(put.status).toBe(201);
    const ledger = E.LEDGER.get(E.LEDGER.idFromName("app")) as unknown as { syncNow(r: string): Promise<{ ok: boolean }> };
    expect(await ledger.syncNow("app")).toMatchObject({ ok: true });
    const [c] = about(await waitFor("conflicts", (d) => about(d, uid).length >= 1), uid);
    expect(c!.verified).toBe(true);
    expect(c!.body).toMatchObject({ type: "reservation.conflict", data: { resource: "app", conflictsWith: [granted.body.reservation.uid], reservation: { source: "calendar", holder: { id: "bob" } } } });
    const all = about(await waitFor("all", (d) => about(d, uid).length >= 2), uid);
    expect(all.map((d) => d.body.type)).toEqual(["reservation.created", "reservation.conflict"]);
    // More syncs: no news.
    expect(await ledger.syncNow("app")).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 500));
    expect(about(await deliveries("all"), uid)).toHaveLength(2);
  });

  it("a receiver that answers 503 gets the same webhook-id again after the retry wait, and it verifies", async () => {
    expect((await fetch(`${RECEIVER}/script/${SITE}-flaky`, { method: "POST", body: "[503]" })).status).toBe(204);
    const made = await api("POST", "/api/v1/reservations", { resource: "host2", start: inMin(60), end: inMin(90) });
    expect(made.status).toBe(201);
    const ds = about(await waitFor("flaky", (d) => about(d, made.body.reservation.uid).length >= 2, 30_000), made.body.reservation.uid);
    expect(ds).toHaveLength(2);
    expect(ds[0]!.id).toBe(ds[1]!.id);
    expect(ds[1]!.at - ds[0]!.at).toBeGreaterThanOrEqual(4_900);
    expect(ds.every((d) => d.verified)).toBe(true);
  }, 60_000);

  it("an agent's enforcement failure for a resource it serves: one enforcement.failed per failure, not per report; other agents are not believed", async () => {
    const since = new Date().toISOString();
    const report = (agent: string, ok: boolean, s = since) =>
      publish(`test/${SITE}/agents/${agent}/enforcement`, JSON.stringify({ agent, at: new Date().toISOString(), resources: { host1: { ok, problems: ok ? [] : ["hog: sshd -t rejects the configuration"], since: s, at: new Date().toISOString() } } }));
    await report("host2", false); // host2 does not serve host1
    await report("host1", false);
    await report("host1", false); // the same failure again (a retained message heard twice)
    const ds = (await waitFor("all", (d) => d.some((x) => x.body.type === "enforcement.failed"))).filter((d) => d.body.type === "enforcement.failed");
    await new Promise((r) => setTimeout(r, 1500));
    const again = (await deliveries("all")).filter((d) => d.body.type === "enforcement.failed");
    expect(again).toHaveLength(1);
    expect(ds[0]!.verified).toBe(true);
    expect(ds[0]!.body.data).toEqual({ resource: "host1", enforcement: { agent: "host1", problems: ["hog: sshd -t rejects the configuration"], since } });
    // A new failure (a new `since`) is news again.
    await report("host1", false, new Date(Date.now() + 1000).toISOString());
    await waitFor("all", (d) => d.filter((x) => x.body.type === "enforcement.failed").length === 2);
  });

  it("a booking nobody checked in to is released as a no-show: no_show_released, then ended", async () => {
    const made = await api("POST", "/api/v1/reservations", { resource: "host1", duration: "30m" });
    expect(made.status).toBe(201);
    const uid = made.body.reservation.uid as string;
    await new Promise((r) => setTimeout(r, 2300));
    const rep = await SELF.fetch("http://labhog.test/api/v1/agents/host1/usage", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKENS.agent}`, "content-type": "application/json" },
      body: JSON.stringify({ agent: "host1", at: new Date().toISOString(), resources: { host1: { at: new Date().toISOString(), sessions: [] } } }),
    });
    expect(rep.status).toBe(202);
    expect(((await rep.json()) as any).results.host1.noShows).toEqual([uid]);
    const ds = about(await waitFor("all", (d) => about(d, uid).some((x) => x.body.type === "reservation.ended")), uid);
    expect(ds.map((d) => d.body.type)).toEqual(["reservation.created", "reservation.started", "reservation.no_show_released", "reservation.ended"]);
    expect(ds.every((d) => d.verified)).toBe(true);
  });
});
