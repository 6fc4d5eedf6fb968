import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { api, configure, enc, inMinutes, testEnv } from "./helpers.ts";
import { listEvents, mkcalendar } from "./radicale.ts";

/** A notice on a real CalDAV server (Radicale): a transparent event calendar apps see, never a reservation. */
const SITE = `nr${crypto.randomUUID().slice(0, 6)}`;
const E = env as unknown as { LEDGER: DurableObjectNamespace };
let cal: string;

beforeAll(async () => {
  cal = await mkcalendar(`${SITE}-desk`);
  await configure(
    { RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD },
    { site: SITE, mqtt: false, calendars: `  desk: { backend: caldav, url: "${testEnv.TEST_RADICALE_URL}", calendar: "${cal}", username: ${testEnv.TEST_RADICALE_USER}, passwordSecret: RADICALE_PASSWORD }`, resources: "  desk: { kind: host }" },
  );
});

const syncNow = async () => {
  const r = await (E.LEDGER.get(E.LEDGER.idFromName("desk")) as unknown as { syncNow(r: string): Promise<{ ok: boolean }> }).syncNow("desk");
  expect(r.ok).toBe(true);
};

describe("notices on Radicale", () => {
  it("the notice is one TRANSPARENT X-LABHOG-KIND:notice event in the calendar; after a full re-read it is still no reservation; deleting it deletes the event", async () => {
    const n = await api("POST", "/api/v1/notices", { text: "desk moves to room 2, Monday", resources: ["desk"], until: "6h" });
    expect(n.status).toBe(201);
    const events = await listEvents(cal);
    expect(events).toHaveLength(1);
    const lines = events[0]!.replace(/\r\n[ \t]/g, "").split(/\r\n/);
    expect(lines).toEqual(expect.arrayContaining(["TRANSP:TRANSPARENT", "X-LABHOG-KIND:notice", "SUMMARY:Notice: desk moves to room 2\\, Monday", `UID:labhog-notice-${n.body.id}-desk`]));
    expect(lines.find((l) => l.startsWith("DTEND"))).toBe(`DTEND:${n.body.until.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}`);
    // Read back from the server (not from what was written): still not a reservation, no conflict with an exclusive booking over it.
    await syncNow();
    expect((await api("GET", `/api/v1/reservations?resource=desk&from=${enc(inMinutes(-5))}&to=${enc(inMinutes(400))}`)).body.reservations).toEqual([]);
    const b = await api("POST", "/api/v1/reservations", { resource: "desk", duration: "1h", purpose: "over the notice" });
    expect(b.status).toBe(201);
    await syncNow();
    const res = (await api("GET", "/api/v1/resources/desk")).body;
    expect(res.conflicts).toBe(0);
    expect(res.current.map((r: { uid: string }) => r.uid)).toEqual([b.body.reservation.uid]);
    expect(res.notices.map((x: { id: string }) => x.id)).toEqual([n.body.id]);

    expect((await api("DELETE", `/api/v1/notices/${n.body.id}`)).status).toBe(200);
    const left = await listEvents(cal);
    expect(left).toHaveLength(1);
    expect(left[0]).toContain(`UID:${b.body.reservation.uid}`);
  });
});
