import { beforeAll, describe, expect, inject, it } from "vitest";
import { api, configure, labYaml } from "./helpers.ts";
import { call } from "./issue5-app.ts";

/**
 * A cold list does not wait for the slowest ledger. `wedged` is a CalDAV
 * calendar on a server that accepts connections and never answers, so its
 * ledger spends its first sync waiting for the calendar deadline (DEADLINE_S):
 * a list made meanwhile answers after LIST_WAIT_MS with every other resource
 * and `wedged` marked `syncing` — stale, holding nothing, never free. Once the
 * ledger has given up on the calendar it has never read, lists fail with its
 * 503 again (the API) or mark it unreadable (the status page): the old
 * guarantee, unchanged. The wait is far shorter than the deadline, so which
 * side of it an answer falls on never depends on the machine's speed.
 */
const HANGING = inject("hangingSilentUrl");
const DEADLINE_S = 6;
const WAIT_MS = 300;
const resources = `  host1: { kind: host }
  b1: { kind: board, pool: boards, tags: { soc: rk3588 } }
  wedged: { kind: host, calendar: wedged }`;
const calendars = `  default: { backend: memory }
  wedged: { backend: caldav, url: "${HANGING}", calendar: "${HANGING}cal/", username: u, passwordSecret: WEDGED_PASSWORD }`;

beforeAll(async () => {
  const lab = labYaml({ mqtt: false, resources, calendars });
  await configure({ LIST_WAIT_MS: String(WAIT_MS), STATUS_PUBLIC: "true", WEDGED_PASSWORD: "x", LAB_CONFIG: lab.replace(/(policy:\n  syncInterval: .*\n)/, `$1  calendarDeadline: ${DEADLINE_S}s\n`) });
  // The memory-calendar ledgers awake and synced (one resource read waits for its ledger).
  for (const id of ["host1", "b1"]) expect((await api("GET", `/api/v1/resources/${id}`)).status).toBe(200);
  const booked = await api("POST", "/api/v1/reservations", { resource: "host1", duration: "1h", purpose: "cold list" });
  expect(booked.status, JSON.stringify(booked.body)).toBe(201);
});

describe("a cold list with a ledger still waking", () => {
  it("answers without it, marked syncing and stale, holding nothing; then fails with its 503 once it gave up", async () => {
    const r = await api("GET", "/api/v1/resources");
    expect(r.status).toBe(200);
    const byId = new Map<string, any>(r.body.resources.map((x: any) => [x.id, x]));
    expect([...byId.keys()].sort()).toEqual(["b1", "host1", "wedged"]);
    expect(byId.get("wedged")).toMatchObject({ syncing: true, stale: true, lastSync: null, current: [], next: null, conflicts: 0 });
    expect(byId.get("host1")).toMatchObject({ stale: false, current: [expect.objectContaining({ purpose: "cold list" })] });
    expect(byId.get("host1").syncing).toBeUndefined();
    expect(byId.get("b1").syncing).toBeUndefined();
    expect(typeof byId.get("b1").lastSync).toBe("string");

    // The status page, meanwhile: the row says the calendar is being read, never "Free".
    const live = await (await call("/status/live")).text();
    const row = /id="live-wedged"[\s\S]*?id="tl-wedged"/.exec(live)?.[0] ?? "";
    expect(row).toContain("reading its calendar");
    expect(row).not.toMatch(/>\s*Free/);

    // The ledger gives up at the deadline (it has never read the calendar): the list fails with its 503.
    let last = r;
    for (let i = 0; i < 100 && last.status === 200; i++) {
      await new Promise((ok) => setTimeout(ok, 200));
      last = await api("GET", "/api/v1/resources");
    }
    expect(last.status).toBe(503);
    expect(last.headers.get("content-type")).toContain("application/problem+json");
    expect(last.headers.get("retry-after")).toMatch(/^\d+$/);
    const page = await (await call("/status/live")).text();
    expect(/id="live-wedged"[\s\S]*?id="tl-wedged"/.exec(page)?.[0]).toContain("labhog has not read it yet");
  });

  it("a resource read (one ledger) still waits for its ledger: no syncing mark there", async () => {
    const r = await api("GET", "/api/v1/resources/b1");
    expect(r.status).toBe(200);
    expect(r.body.syncing).toBeUndefined();
  });
});
