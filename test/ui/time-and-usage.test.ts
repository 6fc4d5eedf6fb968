import { describe, expect, it } from "vitest";
import { fromLocalInput, startOfDay, toLocalInput, zonedToUtc } from "../../worker/ui/time.ts";
import { axisOf, pos } from "../../worker/ui/timeline.tsx";
import { checkedIn, describeUsage, liveLine, liveUsageOf } from "../../worker/usage/live.ts";

/** The status page's wall-clock maths (lab zone, DST) and the reading of agents' usage snapshots. */
describe("lab-zone time", () => {
  const tz = "Europe/Berlin";
  it("converts wall time to instants across DST changes", () => {
    expect(new Date(zonedToUtc(tz, 2026, 3, 29, 1, 30)).toISOString()).toBe("2026-03-29T00:30:00.000Z"); // before the spring gap
    expect(new Date(zonedToUtc(tz, 2026, 3, 29, 3, 30)).toISOString()).toBe("2026-03-29T01:30:00.000Z"); // after it
    expect(new Date(zonedToUtc(tz, 2026, 10, 25, 2, 30)).toISOString()).toBe("2026-10-25T00:30:00.000Z"); // the fold: the earlier one
    expect(new Date(zonedToUtc(tz, 2026, 7, 1, 9, 0)).toISOString()).toBe("2026-07-01T07:00:00.000Z");
  });
  it("finds local midnight and round-trips datetime-local values", () => {
    const t = Date.parse("2026-10-25T22:30:00Z"); // 23:30 in Berlin, the day the clocks went back
    expect(new Date(startOfDay(tz, t)).toISOString()).toBe("2026-10-24T22:00:00.000Z");
    expect(startOfDay(tz, t, 1) - startOfDay(tz, t)).toBe(25 * 3_600_000);
    expect(toLocalInput(tz, t)).toBe("2026-10-25T23:30");
    expect(fromLocalInput(tz, "2026-10-25T23:30")).toBe(t);
    expect(fromLocalInput(tz, "yesterday")).toBeUndefined();
  });
  it("lays today out three times wider than each later day, clamped to the window", () => {
    const now = Date.parse("2026-11-26T11:00:00Z");
    const from = startOfDay(tz, now);
    const a = axisOf(tz, now, from, startOfDay(tz, now, 8));
    expect(pos(a, from)).toBe(0);
    expect(pos(a, from + 12 * 3_600_000)).toBe(15);
    expect(pos(a, startOfDay(tz, now, 1))).toBe(30);
    expect(pos(a, startOfDay(tz, now, 8))).toBe(100);
    expect(pos(a, from - 86_400_000)).toBe(0);
    expect(pos(a, startOfDay(tz, now, 30))).toBe(100);
  });
});

describe("live usage", () => {
  const report = {
    agent: "build1",
    at: "2026-11-26T10:00:00Z",
    resources: {
      build1: { sessions: [{ user: "bob", tty: "pts/0", from: "10.0.0.7", since: "x", idleSeconds: 5 }, { user: "bob", tty: "pts/1", idleSeconds: 4000 }], power: { board: "on" }, usb: { devices: [{ name: "jlink", present: true, exported: true }] } },
    },
  };
  it("reads an agent's report for one resource into a readable line", () => {
    const u = liveUsageOf(report, "build1")!;
    expect(u.at).toBe("2026-11-26T10:00:00.000Z");
    expect(liveLine(u)).toBe("Live: bob logged in from 10.0.0.7 (active) · power board=on · USB jlink exported");
    expect(liveUsageOf(report, "other")).toBeNull();
    expect(describeUsage(liveUsageOf({ resources: { x: { sessions: [] } } }, "x")!)).toBe("nobody logged in");
  });
  it("check-in: a holder's session or an attached USB device", () => {
    const u = liveUsageOf(report, "build1")!;
    expect(checkedIn(u, ["bob"])).toBe(true);
    expect(checkedIn(u, ["alice"])).toBe(false);
    expect(checkedIn(liveUsageOf({ sessions: [], usb: { devices: [{ name: "j", attached: true }] } }, "any")!, ["alice"])).toBe(true);
  });
  it("survives hostile or broken input without throwing, and caps what it keeps", () => {
    for (const bad of [null, 42, "x", [], { resources: null }, { resources: { r: "x" } }, { sessions: "no" }, { sessions: [null, 1, { user: 5 }] }]) {
      expect(() => liveUsageOf(bad, "r")).not.toThrow();
    }
    const many = liveUsageOf({ sessions: Array.from({ length: 500 }, (_, i) => ({ user: `u${i}`.padEnd(500, "x") })) }, "r")!;
    expect(many.sessions).toHaveLength(50);
    expect(many.sessions[0]!.user.length).toBe(64);
    expect(liveUsageOf({ sessions: [], at: "not a date" }, "r")!.at).toBeNull();
  });
});
