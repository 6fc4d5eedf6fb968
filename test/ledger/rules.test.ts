import { describe, expect, it } from "vitest";
import type { Reservation } from "../../calendar/model.ts";
import { boundaryPassed, nextAlarm } from "../../worker/ledger/alarm.ts";
import { conflictsWith, releasePlan, validateSpan } from "../../worker/ledger/booking-rules.ts";
import { CalendarDeadlineError, withDeadline } from "../../worker/ledger/deadline.ts";
import { firstReadPlan, freshnessOf } from "../../worker/ledger/freshness.ts";
import { expiredLeases } from "../../worker/ledger/leases.ts";
import { nextSeq } from "../../worker/schedule/seq.ts";

const T0 = Date.UTC(2026, 11, 1, 12);
const at = (min: number) => new Date(T0 + min * 60_000).toISOString();
function res(id: string, s: number, e: number, o: Partial<Reservation> = {}): Reservation {
  return { id, uid: id, resource: "r", holder: { id: "bob", raw: "bob" }, start: at(s), end: at(e), exclusive: true, purpose: "", source: "api", state: "upcoming", ...o };
}

describe("booking rules", () => {
  it("conflicts: standing reservations and live holds block; losers, ended ones and expired holds don't", () => {
    const req = { start: at(10), end: at(20), exclusive: true };
    const rs = [res("a", 0, 11), res("lost", 12, 13, { state: "conflict" }), res("old", 0, 30, { state: "ended" }), res("b", 19, 40)];
    const holds = [
      { id: "h1", req: { start: at(15), end: at(16), exclusive: true, holder: "carol", purpose: "" }, expires: T0 + 1 },
      { id: "h2", req: { start: at(15), end: at(16), exclusive: true, holder: "carol", purpose: "" }, expires: T0 - 1 },
    ];
    expect(conflictsWith(req, rs, holds, T0).map((c) => c.id)).toEqual(["a", "b", "hold:h1"]);
    expect(conflictsWith(req, rs, holds, T0, { uid: "a", hold: "h1" }).map((c) => c.id)).toEqual(["b"]);
    expect(conflictsWith({ ...req, exclusive: false }, [res("s", 0, 30, { exclusive: false })], [], T0)).toEqual([]);
  });

  it("validation: order, length, not over already", () => {
    expect(() => validateSpan({ start: at(10), end: at(5) }, 3_600_000, "1h", T0)).toThrow(/after start/);
    expect(() => validateSpan({ start: at(0), end: at(61) }, 3_600_000, "1h", T0)).toThrow(/at most 1h/);
    expect(() => validateSpan({ start: at(-20), end: at(-10) }, 3_600_000, "1h", T0)).toThrow(/over already/);
    expect(() => validateSpan({ start: at(0), end: at(60) }, 3_600_000, "1h", T0)).not.toThrow();
  });

  it("release: a running reservation is cut at now, in its first second deleted; cancel refuses a running one", () => {
    const running = res("r", -5, 30, { state: "active" });
    expect(releasePlan(running, "release", T0, "r")).toEqual({ kind: "cut", end: new Date(T0).toISOString() });
    expect(releasePlan(res("r", 0, 30, { state: "active" }), "release", T0 + 500, "r")).toEqual({ kind: "delete" });
    expect(() => releasePlan(running, "cancel", T0, "r")).toThrow(/release it instead/);
    expect(releasePlan(res("u", 10, 30), "cancel", T0, "u")).toEqual({ kind: "delete" });
    // One occurrence of a series follows the same plan (the ledger writes an EXDATE for its delete).
    expect(releasePlan(res("o", 10, 30, { recurrenceId: at(10) }), "cancel", T0, "o")).toEqual({ kind: "delete" });
  });

  it("leases end ttl seconds after the last keep-alive", () => {
    const leases = [{ uid: "a", ttl: 60, lastKeepalive: T0 - 61_000 }, { uid: "b", ttl: 60, lastKeepalive: T0 - 59_000 }];
    expect(expiredLeases(leases, T0).map((l) => l.uid)).toEqual(["a"]);
  });
});

describe("nextAlarm", () => {
  const base = { lastAttemptAt: T0, syncIntervalMs: 15_000, window: [], publishedAt: T0, scheduleWindowMs: 86_400_000, publishPending: false, leases: [], holds: [] };
  it("is the earliest of sync, boundary, lease, hold, publish retry, channel and usage line", () => {
    expect(nextAlarm(base, T0)).toBe(T0 + 15_000);
    expect(nextAlarm({ ...base, window: [res("a", 0.1, 30)] }, T0)).toBe(T0 + 6_000);
    expect(nextAlarm({ ...base, leases: [{ uid: "l", ttl: 10, lastKeepalive: T0 }] }, T0)).toBe(T0 + 10_000);
    expect(nextAlarm({ ...base, holds: [{ id: "h", req: { start: at(0), end: at(1), exclusive: true, holder: "x", purpose: "" }, expires: T0 + 3000 }] }, T0)).toBe(T0 + 3000);
    expect(nextAlarm({ ...base, publishPending: true }, T0)).toBe(T0 + 5000);
    expect(nextAlarm({ ...base, channelDue: T0 + 2000, mirrorDueAt: T0 + 1000 }, T0)).toBe(T0 + 1000);
    // Never in the past: at least 100 ms ahead.
    expect(nextAlarm({ ...base, lastAttemptAt: 0 }, T0)).toBe(T0 + 100);
  });
  it("a passed boundary or a half-spent window asks for a publish", () => {
    expect(boundaryPassed([res("a", -1, 30)], T0 - 120_000, 86_400_000, T0)).toBe(true);
    expect(boundaryPassed([res("a", 1, 30)], T0 - 120_000, 86_400_000, T0)).toBe(false);
    expect(boundaryPassed([], T0 - 43_200_001, 86_400_000, T0)).toBe(true);
    expect(boundaryPassed([], 0, 86_400_000, T0)).toBe(true);
  });
});

describe("freshness", () => {
  it("never synced: a read syncs first, or answers 503 right after a failed attempt", () => {
    expect(firstReadPlan({ lastSyncAt: 0, lastAttemptAt: 0 }, 15_000, T0)).toBe("sync");
    expect(firstReadPlan({ lastSyncAt: 0, lastAttemptAt: T0 - 1000 }, 15_000, T0)).toBe("unavailable");
    expect(firstReadPlan({ lastSyncAt: 0, lastAttemptAt: T0 - 6000 }, 15_000, T0)).toBe("sync");
    expect(firstReadPlan({ lastSyncAt: T0 - 3_600_000, lastAttemptAt: T0 }, 15_000, T0)).toBe("ready");
  });
  it("stale after three sync intervals without a good sync", () => {
    expect(freshnessOf({ lastSyncAt: T0 - 45_000, unreachableSince: 0 }, 15_000, T0)).toEqual({ lastSync: new Date(T0 - 45_000).toISOString(), stale: false, unreachableSince: null });
    expect(freshnessOf({ lastSyncAt: T0 - 45_001, unreachableSince: T0 - 30_000 }, 15_000, T0)).toEqual({ lastSync: new Date(T0 - 45_001).toISOString(), stale: true, unreachableSince: new Date(T0 - 30_000).toISOString() });
  });
});

describe("schedule seq", () => {
  it("follows the signing clock, never below the last stored + 1", () => {
    expect(nextSeq(0, T0)).toBe(T0);
    expect(nextSeq(T0, T0)).toBe(T0 + 1);
    expect(nextSeq(T0 + 50, T0)).toBe(T0 + 51);
    // A ledger that lost its storage (last = 0) still issues a seq above any earlier one of the same clock.
    expect(nextSeq(0, T0 + 1)).toBeGreaterThan(nextSeq(T0 - 10, T0));
  });
});

describe("withDeadline", () => {
  it("a call that never answers fails with a 503 carrying Retry-After, and its signal aborts", async () => {
    let signal: AbortSignal | undefined;
    const err = await withDeadline(50, "book", (s) => {
      signal = s;
      return new Promise<never>(() => {});
    }).catch((e) => e);
    expect(err).toBeInstanceOf(CalendarDeadlineError);
    expect(err).toMatchObject({ status: 503, code: "calendar-timeout", detail: { retryAfter: 5, deadlineMs: 50 } });
    expect(signal!.aborted).toBe(true);
  });
  it("a call that answers in time gives its value; a late failure is swallowed", async () => {
    expect(await withDeadline(1000, "x", async () => 42)).toBe(42);
    const late = withDeadline(10, "x", () => new Promise((_, rej) => setTimeout(() => rej(new Error("late")), 30)));
    await expect(late).rejects.toBeInstanceOf(CalendarDeadlineError);
    await new Promise((r) => setTimeout(r, 50));
  });
});
