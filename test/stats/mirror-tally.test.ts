/**
 * The use tally the mirror writes into the running reservation's event
 * (X-LABHOG-USAGE `used`), and the no-show mark, driven report by report
 * with a fake ledger port over in-memory calendar objects and chosen times.
 */
import { describe, expect, it } from "vitest";
import { parseLabConfig } from "../../calendar/config/lab-config.ts";
import { reservationsFromIcs, reservationToIcs } from "../../calendar/ical/index.ts";
import { createLogger } from "../../worker/log.ts";
import { compactUsage, MAX_USAGE_SUMMARY_CHARS, type LiveUsage } from "../../worker/usage/live.ts";
import { emptyMirrorState, mirrorUsage, type MirrorPort } from "../../worker/usage/mirror.ts";
import { newTally, tallyReport, usedField, USED_FIELD_CHARS, MAX_GAP_MS } from "../../worker/stats/use-tally.ts";
import { stateAt } from "../../calendar/model.ts";
import { releasePlan } from "../../worker/ledger/booking-rules.ts";
import { patchEventIcs } from "../../calendar/ical/index.ts";

const LAB = (policy = "") => parseLabConfig(`site: t
calendars:
  default: { backend: memory }
resources:
  h1: { kind: host }
users:
  alice: { email: alice@example.com, unix: alice, groups: [] }
  bob: { email: bob@example.com, unix: bob, groups: [] }
policy:
  syncInterval: 15s
${policy}`);

const T = (hm: string) => Date.parse(`2026-05-04T${hm}:00Z`);
const users = [{ id: "alice", email: "alice@example.com", unix: ["alice"], sshKeys: [], groups: [] }];

function fakeLab(policy = "", now: () => number) {
  const lab = LAB(policy);
  const objects = new Map<string, { id: string; etag: string; ics: string }>();
  let n = 0;
  const put = (id: string, ics: string) => objects.set(id, { id, etag: `e${++n}`, ics });
  put("res1", reservationToIcs({ uid: "res1", holder: users[0]!, start: new Date(T("09:00")).toISOString(), end: new Date(T("11:00")).toISOString(), exclusive: true, purpose: "work" } as never, { resource: "h1", timezone: "UTC", users }));
  const writes: string[] = [];
  const rows = (from: number, to: number) =>
    [...objects.values()].flatMap((o) => reservationsFromIcs(o.ics, { resource: "h1", timezone: "UTC", users }, { start: new Date(from - 86_400_000), end: new Date(to + 86_400_000) }, o.id).filter((r) => Date.parse(r.start) < to && Date.parse(r.end) > from).map((r) => ({ ...r, state: stateAt(r, new Date(now())), objectId: o.id })));
  const port: MirrorPort = {
    lab,
    resource: "h1",
    log: createLogger({ component: "test" }),
    reservations: rows,
    object: (id) => objects.get(id),
    update: async (id, ics) => {
      writes.push(id);
      put(id, ics);
    },
    create: async (uid, ics) => {
      put(uid, ics);
      return { id: uid };
    },
    release: async (id) => {
      const r = rows(now() - 1, now() + 1).find((x) => x.id === id)!;
      const plan = releasePlan(r, "release", now(), id);
      if (plan.kind === "delete") objects.delete(r.objectId);
      else put(r.objectId, patchEventIcs(objects.get(r.objectId)!.ics, { end: plan.end }));
    },
  };
  const usage = () => rows(T("00:00"), T("23:59")).find((r) => r.uid === "res1")?.usage as any;
  return { port, writes, usage, objects };
}

const live = (...who: string[]): LiveUsage => ({ at: null, sessions: who.map((user) => ({ user, activity: "active" as const })), power: {}, usb: [] });

describe("the use tally", () => {
  it("counts the time after a report that showed the holder, at most 10 minutes of it, inside the reservation only", () => {
    let t = newTally("r", T("09:00"));
    const span = { start: new Date(T("09:00")).toISOString(), end: new Date(T("11:00")).toISOString() };
    t = tallyReport(t, span, T("09:00"), true);
    t = tallyReport(t, span, T("09:05"), true); // +5 min
    t = tallyReport(t, span, T("09:40"), false); // +10 min (silent for 35)
    t = tallyReport(t, span, T("09:50"), true); // +0: nobody at 09:40
    t = tallyReport(t, span, T("11:30"), false); // +10 min from 09:50
    expect(usedField(t)).toEqual({ s: 25 * 60, first: "2026-05-04T09:00:00Z", last: "2026-05-04T10:00:00Z" });
    expect(MAX_GAP_MS).toBe(600_000);
    // Nothing before the start or after the end counts.
    let u = newTally("r", T("08:00"));
    u = tallyReport(u, span, T("08:55"), true);
    u = tallyReport(u, span, T("09:03"), true);
    u = tallyReport(u, { ...span, end: new Date(T("09:05")).toISOString() }, T("09:10"), false);
    expect(usedField(u)).toEqual({ s: 5 * 60, first: "2026-05-04T09:00:00Z", last: "2026-05-04T09:05:00Z" });
  });

  it("the summary with `used` stays within 600 characters however busy the host", () => {
    const busy: LiveUsage = {
      at: "2030-01-01T09:00:00.000Z",
      sessions: Array.from({ length: 50 }, (_, i) => ({ user: `user-with-a-long-login-name-${i}`, from: `2001:db8:85a3:1234:5678:8a2e:370:${i}`, activity: "active" as const })),
      power: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`pdu-outlet-number-${i}`, "on-and-cycling"])),
      usb: Array.from({ length: 20 }, (_, i) => ({ name: `segger-jlink-ultra-plus-${i}`, present: true, exported: true, attached: true })),
    };
    const summary = { ...compactUsage(busy, USED_FIELD_CHARS), used: { s: 9_999_999, first: "2030-01-01T09:00:00Z", last: "2030-12-31T23:59:59Z" } };
    expect(JSON.stringify(summary).length).toBeLessThanOrEqual(MAX_USAGE_SUMMARY_CHARS);
    // Still says who is on, and counts the rest.
    expect([summary.sessions.length > 0, summary.more?.sessions! > 0]).toEqual([true, true]);
  });
});

describe("the mirror writes the tally into the event", () => {
  it("with the live line, every 5 minutes of new use while the line stays, and the last stretch once the reservation is over", async () => {
    let now = 0;
    const f = fakeLab("", () => now);
    const state = emptyMirrorState();
    const report = async (hm: string, l: LiveUsage) => {
      now = T(hm);
      return (await mirrorUsage(f.port, state, l, { now, minIntervalMs: 0 })).wrote;
    };
    expect(await report("09:00", live("alice"))).toBe("live-line");
    expect(f.usage().used).toEqual({ s: 0, first: "2026-05-04T09:00:00Z", last: "2026-05-04T09:00:00Z" });
    expect(await report("09:01", live("alice"))).toBe("unchanged"); // 60 s new: not worth a write
    expect(await report("09:06", live("alice"))).toBe("live-line"); // 360 s: the tally is written alone
    expect(f.usage().used.s).toBe(360);
    expect(await report("09:10", live())).toBe("live-line"); // alice left: a new line, and 4 more minutes
    expect(f.usage().used).toEqual({ s: 600, first: "2026-05-04T09:00:00Z", last: "2026-05-04T09:10:00Z" });
    expect(await report("09:30", live("alice"))).toBe("live-line");
    expect(await report("09:50", live("alice"))).toBe("live-line"); // 10 of the 20 minutes count: +600
    expect(f.usage().used.s).toBe(1200);
    // Over: the next report (nobody, no reservation) brings the last 10 minutes after 09:50 into the event.
    const writes = f.writes.length;
    expect(await report("11:05", live())).toBe("none");
    expect(f.writes.length).toBe(writes + 1);
    expect(f.usage().used).toEqual({ s: 1800, first: "2026-05-04T09:00:00Z", last: "2026-05-04T10:00:00Z" });
    // The line's own content stays as it was written.
    expect(f.usage().sessions.map((s: any) => s.user)).toEqual(["alice"]);
  });

  it("a no-show is released and marked `noShow` in its event, with the end it was booked to", async () => {
    let now = 0;
    const f = fakeLab("  noShowGrace: 15m\n", () => now);
    const state = emptyMirrorState();
    now = T("09:05");
    expect((await mirrorUsage(f.port, state, live(), { now, minIntervalMs: 0 })).noShows).toEqual([]);
    now = T("09:16");
    expect((await mirrorUsage(f.port, state, live(), { now, minIntervalMs: 0 })).noShows).toEqual(["res1"]);
    expect(f.usage()).toEqual({ noShow: { at: "2026-05-04T09:16:00.000Z", bookedEnd: "2026-05-04T11:00:00.000Z" } });
    const ics = f.objects.get("res1")!.ics;
    expect(ics).toMatch(/DTEND:20260504T091600Z/);
  });
});
