import { beforeAll, describe, expect, it } from "vitest";
import { api, configure, enc, labYaml, testEnv } from "./helpers.ts";
import { davServers, type DavServer } from "./dav.ts";

/**
 * Recurring bookings through the API, on both real CalDAV
 * servers: a series is one event with an RRULE in the lab's zone, each
 * occurrence is checked for conflicts, a few conflicts can be skipped
 * (EXDATE), a mostly conflicting series is refused as a whole; one
 * occurrence is changed with a RECURRENCE-ID override or cancelled with an
 * EXDATE; "this and following" ends the series with UNTIL and starts a new one.
 */
const SITE = `r${crypto.randomUUID().slice(0, 6)}`;
const TZ = "Europe/Berlin";
const SERVERS = davServers();
const CASES = ["series", "skip", "most", "occ", "run", "follow", "follow2"] as const;
const cal = new Map<string, string>();
const res = (s: DavServer, c: (typeof CASES)[number]) => `${s.name}-${c}`;

const DAY = 86_400_000;
const HOUR = 3_600_000;
const wallFmt = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
/** "Tue 09:00" in the lab's zone. */
const wall = (iso: string) => wallFmt.format(new Date(iso)).replace(",", "");
const dateFmt = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });
/** The instant of `hh:00` in the lab's zone on the day `daysAhead` from now. */
function labTime(daysAhead: number, hh: number): string {
  const [y, m, d] = dateFmt.format(new Date(Date.now() + daysAhead * DAY)).split("-").map(Number) as [number, number, number];
  for (const off of [1, 2]) {
    const ms = Date.UTC(y, m - 1, d, hh) - off * HOUR;
    if (wallFmt.format(new Date(ms)).endsWith(`${String(hh).padStart(2, "0")}:00`)) return new Date(ms).toISOString();
  }
  throw new Error("no such wall time");
}

beforeAll(async () => {
  const calendars: string[] = [];
  const resources: string[] = [];
  for (const s of SERVERS) {
    for (const c of CASES) {
      const url = await s.mkcalendar(`${SITE}-${c}`);
      cal.set(res(s, c), url);
      calendars.push(`  ${res(s, c)}: ${s.calendarYaml(url)}`);
      resources.push(`  ${res(s, c)}: { kind: host }`);
    }
  }
  const lab = { site: SITE, calendars: calendars.join("\n"), resources: resources.join("\n"), syncInterval: "1h", mqtt: false };
  await configure({ RADICALE_PASSWORD: testEnv.TEST_RADICALE_PASSWORD, LAB_CONFIG: `${labYaml(lab)}timezone: ${TZ}\n` }, lab);
});

async function list(r: string, fromDays = -1, toDays = 380): Promise<any[]> {
  const a = await api("GET", `/api/v1/reservations?resource=${r}&from=${enc(new Date(Date.now() + fromDays * DAY).toISOString())}&to=${enc(new Date(Date.now() + toDays * DAY).toISOString())}`);
  expect(a.status).toBe(200);
  return a.body.reservations;
}
const ofUid = (rs: any[], uid: string) => rs.filter((r) => r.uid === uid);
const span = (r: any) => [r.start, r.end];

describe("recurring bookings: validation", () => {
  const base = () => ({ resource: `${SERVERS[0]!.name}-series`, start: labTime(3, 9), duration: "1h" });
  it.each([
    ["no until or count", { freq: "weekly" }, "body.repeat.until"],
    ["both until and count", { freq: "daily", count: 3, until: "2099-01-01" }, "body.repeat.until"],
    ["byDay with daily", { freq: "daily", byDay: ["TU"], count: 3 }, "body.repeat.byDay"],
    ["an unknown day", { freq: "weekly", byDay: ["XX"], count: 3 }, "body.repeat.byDay.0"],
    ["more than 200", { freq: "daily", count: 201 }, "body.repeat.count"],
    ["an unknown freq", { freq: "hourly", count: 2 }, "body.repeat.freq"],
    ["an unknown field", { freq: "daily", count: 2, byMonth: [1] }, "body.repeat"],
  ])("refuses %s (400)", async (_name, repeat, path) => {
    const a = await api("POST", "/api/v1/reservations", { ...base(), repeat });
    expect(a.status).toBe(400);
    expect(a.body.errors.map((e: any) => e.path)).toContain(path);
  });

  it("refuses a series longer than policy.maxSeriesLength (366d), by until or by count", async () => {
    const byUntil = await api("POST", "/api/v1/reservations", { ...base(), repeat: { freq: "weekly", until: new Date(Date.now() + 400 * DAY).toISOString().slice(0, 10) } });
    expect(byUntil.status).toBe(400);
    expect(byUntil.body.detail).toMatch(/at most 366d \(policy.maxSeriesLength\)/);
    const byCount = await api("POST", "/api/v1/reservations", { ...base(), repeat: { freq: "monthly", count: 14 } });
    expect(byCount.status).toBe(400);
    expect(byCount.body.detail).toMatch(/policy.maxSeriesLength/);
    expect(await list(base().resource)).toEqual([]);
  });

  it("refuses repeat with a pool, without a start, with a lease; skipConflicts without repeat", async () => {
    expect((await api("POST", "/api/v1/reservations", { pool: "boards", start: labTime(3, 9), repeat: { freq: "daily", count: 2 } })).status).toBe(400);
    expect((await api("POST", "/api/v1/reservations", { resource: base().resource, repeat: { freq: "daily", count: 2 } })).status).toBe(400);
    expect((await api("POST", "/api/v1/reservations", { ...base(), lease: { ttl: 60 }, repeat: { freq: "daily", count: 2 } })).status).toBe(400);
    expect((await api("POST", "/api/v1/reservations", { ...base(), skipConflicts: true })).status).toBe(400);
  });
});

describe.each(SERVERS)("recurring bookings on $name", (s) => {
  it("every Tuesday and Thursday 09:00–12:00 for 30 weeks: one event, RRULE in the lab's zone, 09:00 on both sides of a DST change", async () => {
    const r = res(s, "series");
    // A Wednesday-or-whatever start: the series begins on the first Tuesday or Thursday from it.
    const from = labTime(2, 9); // once: computed again, it moves a day when Berlin's midnight passes mid-test
    const a = await api("POST", "/api/v1/reservations", { resource: r, start: from, duration: "3h", purpose: "weekly bring-up", repeat: { freq: "weekly", byDay: ["TU", "TH"], count: 60 } });
    expect(a.status).toBe(201);
    const rs = a.body.reservations;
    expect(rs).toHaveLength(60);
    expect(a.body.skipped).toEqual([]);
    expect(a.body.reservation).toEqual(rs[0]);
    expect(new Set(rs.map((x: any) => x.uid)).size).toBe(1);
    for (const x of rs) {
      expect(["Tue 09:00", "Thu 09:00"]).toContain(wall(x.start));
      expect(wall(x.end).slice(4)).toBe("12:00");
      expect(x.id).toBe(`${r}:${x.uid}/${x.recurrenceId}`);
    }
    // 30 weeks always cross a change of Berlin's clocks: two UTC hours, one wall time.
    expect(new Set(rs.map((x: any) => new Date(x.start).getUTCHours())).size).toBe(2);
    expect(Date.parse(rs[0].start)).toBeGreaterThanOrEqual(Date.parse(from));
    expect(Date.parse(rs[0].start)).toBeLessThan(Date.parse(from) + 7 * DAY);
    expect(ofUid(await list(r), rs[0].uid).map(span)).toEqual(rs.map(span));
    const ics = await s.get(cal.get(r)!, rs[0].uid);
    expect(ics).toMatch(/^RRULE:FREQ=WEEKLY;COUNT=60;BYDAY=TU,TH\r?$/m);
    expect(ics).toMatch(/^DTSTART;TZID=Europe\/Berlin:\d{8}T090000\r?$/m);
    expect(ics).toMatch(/^DTEND;TZID=Europe\/Berlin:\d{8}T120000\r?$/m);
    expect(ics).toMatch(/^BEGIN:VTIMEZONE\r?$/m);
    expect(ics.match(/^BEGIN:VEVENT/gm)).toHaveLength(1);
  });

  it("a few conflicts: 409 listing the dates; with skipConflicts, 201 with an EXDATE per skipped date", async () => {
    const r = res(s, "skip");
    const occ = Array.from({ length: 10 }, (_, k) => labTime(3 + k, 9));
    for (const k of [2, 6]) expect((await api("POST", "/api/v1/reservations", { resource: r, start: occ[k], duration: "30m", holder: "bob" })).status).toBe(201);
    const body = { resource: r, start: occ[0], duration: "1h", repeat: { freq: "daily", count: 10 } };
    const refused = await api("POST", "/api/v1/reservations", body);
    expect(refused.status).toBe(409);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.body).toMatchObject({ conflictingDates: [occ[2], occ[6]], occurrences: 10, refusedAsWhole: false });
    expect(refused.body.conflicts.map((c: any) => c.holder)).toEqual(["bob", "bob"]);
    expect(refused.body.conflicts.every((c: any) => c.id.startsWith(`${r}:`))).toBe(true);
    expect((await list(r)).length).toBe(2);

    const ok = await api("POST", "/api/v1/reservations", { ...body, skipConflicts: true });
    expect(ok.status).toBe(201);
    expect(ok.body.skipped).toEqual([occ[2], occ[6]]);
    expect(ok.body.reservations.map((x: any) => x.start)).toEqual(occ.filter((_, k) => k !== 2 && k !== 6));
    const ics = await s.get(cal.get(r)!, ok.body.reservation.uid);
    expect(ics.match(/^EXDATE;TZID=Europe\/Berlin:\d{8}T090000\r?$/gm)).toHaveLength(2);
    expect(ofUid(await list(r), ok.body.reservation.uid)).toHaveLength(8);
  });

  it("more than half conflicting: refused as a whole, even with skipConflicts; nothing written", async () => {
    const r = res(s, "most");
    const occ = Array.from({ length: 4 }, (_, k) => labTime(3 + 7 * k, 14));
    for (const k of [0, 1, 3]) expect((await api("POST", "/api/v1/reservations", { resource: r, start: occ[k], duration: "1h", holder: "bob" })).status).toBe(201);
    const a = await api("POST", "/api/v1/reservations", { resource: r, start: occ[0], duration: "1h", repeat: { freq: "weekly", count: 4 }, skipConflicts: true });
    expect(a.status).toBe(409);
    expect(a.body).toMatchObject({ conflictingDates: [occ[0], occ[1], occ[3]], occurrences: 4, refusedAsWhole: true });
    expect(a.body.detail).toMatch(/3 of 4 occurrences conflict \(more than half\)/);
    expect((await list(r)).map((x) => x.holder.id)).toEqual(["bob", "bob", "bob"]);
  });

  it("this occurrence: extend, shorten, move (RECURRENCE-ID overrides) and cancel (EXDATE); the others stay", async () => {
    const r = res(s, "occ");
    const a = await api("POST", "/api/v1/reservations", { resource: r, start: labTime(3, 9), duration: "1h", repeat: { freq: "daily", count: 6 } });
    expect(a.status).toBe(201);
    const [o0, o1, o2, o3, o4, o5] = a.body.reservations;
    const uid = o0.uid;
    const plus = (iso: string, h: number) => new Date(Date.parse(iso) + h * HOUR).toISOString();

    const ext = await api("PATCH", `/api/v1/reservations/${enc(o1.id)}`, { extendBy: "1h" });
    expect(ext.status).toBe(200);
    expect(ext.body).toMatchObject({ id: o1.id, start: o1.start, end: plus(o1.end, 1), recurrenceId: o1.recurrenceId });
    expect((await api("PATCH", `/api/v1/reservations/${enc(o2.id)}`, { end: plus(o2.start, 0.5) })).status).toBe(200);
    const moved = await api("PATCH", `/api/v1/reservations/${enc(o3.id)}`, { start: plus(o3.start, 2) });
    expect(moved.status).toBe(200);
    expect(span(moved.body)).toEqual([plus(o3.start, 2), plus(o3.end, 2)]);
    const cancelled = await api("DELETE", `/api/v1/reservations/${enc(o4.id)}`);
    expect(cancelled.status).toBe(200);

    // A change that would overlap someone else is refused per occurrence.
    expect((await api("POST", "/api/v1/reservations", { resource: r, start: o5.end, duration: "1h", holder: "bob" })).status).toBe(201);
    const clash = await api("PATCH", `/api/v1/reservations/${enc(o5.id)}`, { extendBy: "30m" });
    expect(clash.status).toBe(409);

    expect(ofUid(await list(r), uid).map((x) => [x.id, ...span(x)])).toEqual([
      [o0.id, ...span(o0)],
      [o1.id, o1.start, plus(o1.end, 1)],
      [o2.id, o2.start, plus(o2.start, 0.5)],
      [o3.id, plus(o3.start, 2), plus(o3.end, 2)],
      [o5.id, ...span(o5)],
    ]);
    const ics = await s.get(cal.get(r)!, uid);
    expect(ics.match(/^RECURRENCE-ID;TZID=Europe\/Berlin:\d{8}T090000\r?$/gm)).toHaveLength(3);
    expect(ics.match(/^EXDATE;TZID=Europe\/Berlin:\d{8}T090000\r?$/gm)).toHaveLength(1);
    expect(ics.match(/^RRULE:/gm)).toHaveLength(1);
  });

  it("this occurrence, running: release ends it now with an override; the next ones stay", async () => {
    const r = res(s, "run");
    const now = Math.floor(Date.now() / 1000) * 1000;
    const a = await api("POST", "/api/v1/reservations", { resource: r, start: new Date(now - 10 * 60_000).toISOString(), duration: "1h", repeat: { freq: "daily", count: 3 } });
    expect(a.status).toBe(201);
    const [o0, o1, o2] = a.body.reservations;
    expect(o0.state).toBe("active");
    const rel = await api("POST", `/api/v1/reservations/${enc(o0.id)}/release`);
    expect(rel.status).toBe(200);
    expect(rel.body.state).toBe("ended");
    const after = ofUid(await list(r), o0.uid);
    expect(after.map((x) => x.id)).toEqual([o0.id, o1.id, o2.id]);
    expect(after[0].state).toBe("ended");
    expect(Date.parse(after[0].end)).toBeLessThan(Date.parse(o0.end));
    expect(after.slice(1).map(span)).toEqual([span(o1), span(o2)]);
    expect(await s.get(cal.get(r)!, o0.uid)).toMatch(/^RECURRENCE-ID;TZID=Europe\/Berlin:/m);
  });

  it("this and following: the series ends with UNTIL, a new one starts (new UID) with the change; cancel following ends it", async () => {
    const r = res(s, "follow");
    const a = await api("POST", "/api/v1/reservations", { resource: r, start: labTime(3, 10), duration: "1h", repeat: { freq: "daily", count: 6 } });
    expect(a.status).toBe(201);
    const occ = a.body.reservations;
    const uid = occ[0].uid;
    const p = await api("PATCH", `/api/v1/reservations/${enc(occ[2].id)}?scope=following`, { extendBy: "1h" });
    expect(p.status).toBe(200);
    const newUid = p.body.uid;
    expect(newUid).not.toBe(uid);
    expect(span(p.body)).toEqual([occ[2].start, new Date(Date.parse(occ[2].end) + HOUR).toISOString()]);
    const rs = await list(r);
    expect(ofUid(rs, uid).map(span)).toEqual(occ.slice(0, 2).map(span));
    expect(ofUid(rs, newUid).map(span)).toEqual(occ.slice(2).map((o: any) => [o.start, new Date(Date.parse(o.end) + HOUR).toISOString()]));
    const head = await s.get(cal.get(r)!, uid);
    expect(head).toMatch(/^RRULE:FREQ=DAILY;UNTIL=\d{8}T\d{6}Z\r?$/m);
    expect(await s.get(cal.get(r)!, newUid)).toMatch(/^RRULE:FREQ=DAILY;COUNT=4\r?$/m);

    const next = ofUid(rs, newUid);
    const c = await api("DELETE", `/api/v1/reservations/${enc(next[2].id)}?scope=following`);
    expect(c.status).toBe(200);
    expect(ofUid(await list(r), newUid).map((x) => x.id)).toEqual([next[0].id, next[1].id]);
  });

  it("this and following carries later cancellations along; refuses a move over them (422) and conflicts of the new series (409)", async () => {
    const r = res(s, "follow2");
    const a = await api("POST", "/api/v1/reservations", { resource: r, start: labTime(3, 15), duration: "1h", repeat: { freq: "daily", count: 6 } });
    expect(a.status).toBe(201);
    const occ = a.body.reservations;
    expect((await api("DELETE", `/api/v1/reservations/${enc(occ[4].id)}`)).status).toBe(200);
    const p = await api("PATCH", `/api/v1/reservations/${enc(occ[2].id)}?scope=following`, { extendBy: "1h" });
    expect(p.status).toBe(200);
    const tail = ofUid(await list(r), p.body.uid);
    expect(tail.map((x) => x.start)).toEqual([occ[2].start, occ[3].start, occ[5].start]);
    expect(await s.get(cal.get(r)!, p.body.uid)).toMatch(/^EXDATE;TZID=Europe\/Berlin:\d{8}T150000\r?$/m);

    expect((await api("POST", "/api/v1/reservations", { resource: r, start: tail[2].end, duration: "1h", holder: "bob" })).status).toBe(201);
    const clash = await api("PATCH", `/api/v1/reservations/${enc(tail[1].id)}?scope=following`, { extendBy: "1h" });
    expect(clash.status).toBe(409);
    expect(clash.body.conflictingDates).toEqual([tail[2].start]);
    // Nothing was written: the series is as it was.
    expect(ofUid(await list(r), p.body.uid).map(span)).toEqual(tail.map(span));

    // Moving the start (the first of the new series: the whole of it) moves its cancellation along, on the wall clock.
    const later = (iso: string) => new Date(Date.parse(iso) - HOUR).toISOString();
    const move = await api("PATCH", `/api/v1/reservations/${enc(tail[0].id)}?scope=following`, { start: later(tail[0].start) });
    expect(move.status).toBe(200);
    expect(ofUid(await list(r), p.body.uid).map(span)).toEqual(tail.map((x) => [later(x.start), later(x.end)]));
    expect(await s.get(cal.get(r)!, p.body.uid)).toMatch(/^EXDATE;TZID=Europe\/Berlin:\d{8}T140000\r?$/m);
  });

  it("this and following to another weekday of a BYDAY series is refused (422): the rule would not follow", async () => {
    const r = res(s, "follow2");
    const a = await api("POST", "/api/v1/reservations", { resource: r, start: labTime(3, 19), duration: "1h", repeat: { freq: "weekly", byDay: ["TU", "TH"], count: 4 } });
    expect(a.status).toBe(201);
    const o = a.body.reservations[1];
    const nextDay = await api("PATCH", `/api/v1/reservations/${enc(o.id)}?scope=following`, { start: new Date(Date.parse(o.start) + DAY).toISOString() });
    expect(nextDay.status).toBe(422);
    expect(nextDay.body.type).toMatch(/series-weekdays$/);
    const sameDay = await api("PATCH", `/api/v1/reservations/${enc(o.id)}?scope=following`, { start: new Date(Date.parse(o.start) + HOUR).toISOString() });
    expect(sameDay.status).toBe(200);
    expect(ofUid(await list(r), sameDay.body.uid).map((x) => wall(x.start).slice(4))).toEqual(["20:00", "20:00", "20:00"]);
  });
});
