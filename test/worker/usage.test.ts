import { beforeAll, describe, expect, it } from "vitest";
import { configure, labYaml, testEnv, TOKENS, api } from "./helpers.ts";
import { call } from "./issue5-app.ts";
import { getEvent, listEvents, mkcalendar } from "./radicale.ts";

/**
 * Usage reported by an agent (POST /api/v1/agents/:id/usage, the agent's own
 * token) mirrored into real Radicale: the live line on the running
 * reservation, unbooked use as a transparent event, no-shows released.
 */
const SITE = `u${crypto.randomUUID().slice(0, 6)}`;
const RES = ["busy", "idle", "noshow", "kept", "other"] as const;
const cal: Record<string, string> = {};

function lab(policy = ""): string {
  const calendars = ["  default: { backend: memory }", ...RES.map((r) => `  ${r}: { backend: caldav, url: "${testEnv.TEST_RADICALE_URL}", calendar: "${cal[r]}", username: ${testEnv.TEST_RADICALE_USER}, passwordSecret: RADICALE_PASSWORD }`)].join("\n");
  const resources = RES.map((r) => `  ${r}: { kind: host, agent: ${r === "other" ? "host2" : "host1"} }`).join("\n");
  return labYaml({ site: SITE, calendars, resources, mqtt: false }).replace("policy:\n", `policy:\n${policy}`);
}

async function setLab(policy = "", writeIntervalMs = 0) {
  await configure({ RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD, USAGE_WRITE_INTERVAL_MS: String(writeIntervalMs), LAB_CONFIG: lab(policy) }, { mqtt: false });
}

beforeAll(async () => {
  for (const r of RES) cal[r] = await mkcalendar(`${SITE}-${r}`);
  await setLab();
});

const session = (user: string, from = "10.1.2.3") => ({ user, tty: "pts/1", from, since: new Date().toISOString(), idleSeconds: 3, pid: 4242 });
const snapshot = (sessions: unknown[], extra: Record<string, unknown> = {}) => ({ at: new Date().toISOString(), sessions, users: [], sources: {}, extra: {}, errors: [], ...extra });

async function report(resources: Record<string, unknown>, token: string = TOKENS.agent, agent = "host1", urlAgent = agent) {
  const r = await call(`/api/v1/agents/${urlAgent}/usage`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ agent, at: new Date().toISOString(), resources }),
  });
  return { status: r.status, body: (await r.json()) as any };
}

async function book(resource: string, who: "alice" | "bob" = "alice") {
  const r = await api("POST", "/api/v1/reservations", { resource, duration: "2h", purpose: "usage test" }, who);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.reservation as { id: string; uid: string };
}

describe("usage mirrored into the calendar", () => {
  it("the running reservation's event gets X-LABHOG-USAGE and a Live: line, rewritten only when the line changes", async () => {
    const r = await book("busy");
    const first = await report({ busy: snapshot([session("alice")], { power: { busy: "on" } }) });
    expect(first.status).toBe(202);
    expect(first.body.results.busy).toMatchObject({ wrote: "live-line", reservation: r.uid });
    let ics = await getEvent(cal.busy!, r.uid);
    expect(ics).toMatch(/X-LABHOG-USAGE:/);
    expect(ics.replace(/\r\n[ \t]/g, "")).toMatch(/DESCRIPTION:Live: alice logged in from 10\.1\.2\.3 \(active\) · power busy=on/);
    const stamp = /DTSTAMP:(\S+)/.exec(ics)![1];
    // Same line again: nothing written.
    expect((await report({ busy: snapshot([session("alice")], { power: { busy: "on" } }) })).body.results.busy.wrote).toBe("unchanged");
    // Bob logs in too: a new line.
    expect((await report({ busy: snapshot([session("alice"), session("bob", "10.9.9.9")], { power: { busy: "on" } }) })).body.results.busy.wrote).toBe("live-line");
    ics = (await getEvent(cal.busy!, r.uid)).replace(/\r\n[ \t]/g, "");
    expect(ics).toContain("bob logged in from 10.9.9.9");
    // Usage updates are not changes a person made: DTSTAMP (a conflict tie-breaker) stays.
    expect(/DTSTAMP:(\S+)/.exec(ics)![1]).toBe(stamp);
    // The API shows the mirrored usage on the reservation.
    const got = await api("GET", `/api/v1/reservations/${encodeURIComponent(`busy:${r.uid}`)}`);
    expect(got.body.usage.sessions.map((s: any) => s.user)).toEqual(["alice", "bob"]);
  });

  it("throttles writes: a changed line within the interval is held back, then written when the interval has passed", async () => {
    // An interval far longer than two reports take on a loaded machine, so the second one is surely within it.
    const interval = 5000;
    await setLab("", interval);
    const r = await book("kept");
    const beforeFirst = Date.now();
    expect((await report({ kept: snapshot([session("alice")]) })).body.results.kept.wrote).toBe("live-line");
    expect((await report({ kept: snapshot([session("alice"), session("bob")]) })).body.results.kept.wrote).toBe("throttled");
    expect((await getEvent(cal.kept!, r.uid)).replace(/\r\n[ \t]/g, "")).not.toContain("bob logged in");
    // No further report comes: the ledger's alarm writes the held-back line once the interval has passed, not before.
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000 && !(await getEvent(cal.kept!, r.uid)).replace(/\r\n[ \t]/g, "").includes("bob logged in")) await new Promise((res) => setTimeout(res, 200));
    expect((await getEvent(cal.kept!, r.uid)).replace(/\r\n[ \t]/g, "")).toContain("bob logged in");
    expect(Date.now() - beforeFirst).toBeGreaterThanOrEqual(interval);
    expect((await report({ kept: snapshot([session("alice"), session("bob")]) })).body.results.kept.wrote).toBe("unchanged");
    await setLab();
  });

  it("an agent token writes only for the resources its agent serves; others are refused and nothing is written", async () => {
    const before = await listEvents(cal.other!);
    const mixed = await report({ busy: snapshot([session("eve")]), other: snapshot([session("eve")]) });
    expect(mixed.status).toBe(403);
    expect(mixed.body.detail).toBe("agent host1 does not serve other");
    expect(await listEvents(cal.other!)).toEqual(before);
    expect((await listEvents(cal.busy!)).join()).not.toContain("eve");
    // Another agent's URL, a user's token, no token, a bad token, a mismatched body.
    expect((await report({ other: snapshot([]) }, TOKENS.agent, "host2")).status).toBe(403);
    expect((await report({ busy: snapshot([]) }, TOKENS.alice)).status).toBe(403);
    expect((await report({ busy: snapshot([]) }, "no-such-token")).status).toBe(401);
    expect((await report({ busy: snapshot([]) }, TOKENS.agent, "host2", "host1")).status).toBe(400);
    // The route is in the OpenAPI document.
    const doc = (await (await call("/openapi.json")).json()) as any;
    expect(Object.keys(doc.paths)).toContain("/api/v1/agents/{id}/usage");
    const unknownField = await call("/api/v1/agents/host1/usage", { method: "POST", headers: { authorization: `Bearer ${TOKENS.agent}`, "content-type": "application/json" }, body: JSON.stringify({ agent: "host1", at: new Date().toISOString(), resources: {}, extra: 1 }) });
    expect(unknownField.status).toBe(400);
  });

  it("use with no reservation becomes one transparent 'unbooked use by bob' event, stretched while it lasts and closed after", async () => {
    expect((await report({ idle: snapshot([session("bob")]) })).body.results.idle.unbooked).toBe("opened");
    let events = await listEvents(cal.idle!);
    expect(events).toHaveLength(1);
    const ev = events[0]!.replace(/\r\n[ \t]/g, "");
    expect(ev).toContain("SUMMARY:unbooked use by bob");
    expect(ev).toContain("TRANSP:TRANSPARENT");
    expect(ev).toMatch(/X-LABHOG-USAGE:/);
    // Still going: the same event, not a second one.
    await report({ idle: snapshot([session("bob")]) });
    expect((await report({ idle: snapshot([session("bob"), session("carol")]) })).body.results.idle).toMatchObject({ unbooked: "extended" });
    events = await listEvents(cal.idle!);
    expect(events).toHaveLength(1);
    expect(events[0]!.replace(/\r\n[ \t]/g, "")).toContain("SUMMARY:unbooked use by bob\\, carol");
    // It is not a reservation: the API lists it as the resource's unbookedUse, not among reservations.
    const res = (await api("GET", "/api/v1/resources/idle")).body;
    expect(res.unbookedUse).toMatchObject({ holder: { id: "bob" }, exclusive: false, purpose: "unbooked use by bob, carol" });
    expect(res.current).toEqual([]);
    expect((await api("GET", "/api/v1/reservations?resource=idle")).body.reservations).toEqual([]);
    // It informs but does not block: alice can still book the host now.
    const b = await api("POST", "/api/v1/reservations", { resource: "idle", duration: "1h", purpose: "while bob is on" });
    await api("POST", `/api/v1/reservations/${encodeURIComponent(b.body.reservation?.id ?? "x:y")}/release`);
    expect(b.status).toBe(201);
    // Nobody logged in any more: closed at about now.
    expect((await report({ idle: snapshot([]) })).body.results.idle.unbooked).toBe("closed");
    const closed = (await listEvents(cal.idle!)).map((e) => e.replace(/\r\n[ \t]/g, "")).find((e) => e.includes("unbooked use"))!;
    const end = /DTEND:(\d{8}T\d{6}Z)/.exec(closed)![1]!;
    const endMs = Date.parse(end.replace(/(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z/, "$1-$2-$3T$4:$5:$6Z"));
    expect(Math.abs(endMs - Date.now())).toBeLessThan(5000);
  });

  it("a reservation nobody checked in to is released as a no-show when the lab enables it — and not when it does not", async () => {
    const GRACE_MS = 5000;
    // Disabled (no policy.noShowGrace): nothing happens however long nobody comes.
    const kept = await book("noshow");
    await new Promise((r) => setTimeout(r, GRACE_MS + 200));
    expect((await report({ noshow: snapshot([]) })).body.results.noshow.noShows).toEqual([]);
    expect((await api("GET", `/api/v1/reservations/${encodeURIComponent(kept.id)}`)).body.state).toBe("active");
    await api("POST", `/api/v1/reservations/${encodeURIComponent(kept.id)}/release`);

    // Enabled with a 5 s grace (counted from the start, which is floored to the second: reports right after
    // booking must land within it on a loaded machine too).
    await setLab(`  noShowGrace: ${GRACE_MS / 1000}s\n`);
    const gone = await book("noshow");
    const early = await report({ noshow: snapshot([]) });
    expect(early.body.results.noshow.noShows).toEqual([]); // within the grace
    await new Promise((r) => setTimeout(r, GRACE_MS + 200));
    const late = await report({ noshow: snapshot([]) });
    expect(late.body.results.noshow.noShows).toEqual([gone.uid]);
    expect((await api("GET", `/api/v1/reservations/${encodeURIComponent(gone.id)}`)).body.state).toBe("ended");

    // Checked in (the holder logged in within the grace), then left: not a no-show.
    const came = await book("noshow");
    await report({ noshow: snapshot([session("alice")]) });
    await new Promise((r) => setTimeout(r, GRACE_MS + 200));
    expect((await report({ noshow: snapshot([]) })).body.results.noshow.noShows).toEqual([]);
    expect((await api("GET", `/api/v1/reservations/${encodeURIComponent(came.id)}`)).body.state).toBe("active");
    // A USB device attached counts as checking in, too.
    await api("POST", `/api/v1/reservations/${encodeURIComponent(came.id)}/release`);
    const usb = await book("noshow");
    await report({ noshow: snapshot([], { usb: { devices: [{ name: "jlink", id: "1366:0101", present: true, exported: true, attached: true }] } }) });
    await new Promise((r) => setTimeout(r, GRACE_MS + 200));
    expect((await report({ noshow: snapshot([]) })).body.results.noshow.noShows).toEqual([]);
    expect((await api("GET", `/api/v1/reservations/${encodeURIComponent(usb.id)}`)).body.state).toBe("active");
    await setLab();
  });
});
