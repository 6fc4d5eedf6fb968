/** The call budget (calendar/backends/deadline.ts), retry's respect for it, and bounded() for backends that don't bound themselves. */
import { describe, expect, it } from "vitest";
import { withRetry } from "../../../calendar/backends/retry.ts";
import { Deadline } from "../../../calendar/backends/deadline.ts";
import { bounded } from "../../../calendar/backends/bounded.ts";
import { MemoryBackend } from "../../../calendar/backends/memory.ts";
import { CalendarTimeoutError, CalendarUnavailableError, UnavailableError } from "../../../calendar/errors.ts";
import { icsEvent, testUid } from "../contract/ics-builder.ts";

describe("withRetry inside a deadline", () => {
  it("does not start a backoff that would end past the deadline: the last 503 at once, no sleep", async () => {
    const sleeps: number[] = [];
    let n = 0;
    const err = await withRetry(async () => { n++; throw new UnavailableError("busy", 2); }, { deadlineAt: Date.now() + 1_000, sleep: async (ms) => { sleeps.push(ms); } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(n).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it("once the budget's signal aborted, its reason is the answer (not the try's error)", async () => {
    const d = new Deadline(10_000, "test");
    const reason = new CalendarUnavailableError("ledger gave up", 9);
    const ac = new AbortController();
    const d2 = new Deadline(10_000, "test", ac.signal);
    ac.abort(reason);
    const err = await withRetry(async () => { throw new UnavailableError("lost"); }, { signal: d2.signal, deadlineAt: d2.at }).catch((e: unknown) => e);
    expect(err).toBe(reason);
    d.dispose();
    d2.dispose();
  });
});

/** A backend whose calls never end and ignore their signal: the worst a layer below can do. */
function deaf(): MemoryBackend & { signals: AbortSignal[] } {
  const m = new MemoryBackend() as MemoryBackend & { signals: AbortSignal[] };
  m.signals = [];
  const never = (o?: { signal?: AbortSignal }) => { if (o?.signal) m.signals.push(o.signal); return new Promise<never>(() => {}); };
  m.get = (_id, o) => never(o);
  m.sync = (_t, o) => never(o);
  m.create = (_u, _i, o) => never(o);
  return m;
}

describe("bounded()", () => {
  it("answers CalendarTimeoutError at the deadline even when the backend ignores its signal, and aborts that signal", async () => {
    const inner = deaf();
    const b = bounded(inner, { deadlineMs: 200 });
    const uid = testUid("b");
    for (const call of [() => b.get("x"), () => b.sync(null), () => b.create(uid, icsEvent({ uid, start: new Date(0), end: new Date(3_600_000) }))]) {
      await expect(call()).rejects.toBeInstanceOf(CalendarTimeoutError);
    }
    expect(inner.signals).toHaveLength(3);
    expect(inner.signals.every((s) => s.aborted && s.reason instanceof CalendarTimeoutError)).toBe(true);
  });

  it("passes results through and gives a verify to a backend without one", async () => {
    const inner = new MemoryBackend();
    const b = bounded(inner, { deadlineMs: 5_000 });
    const uid = testUid("v");
    const o = await b.create(uid, icsEvent({ uid, start: new Date(0), end: new Date(3_600_000) }));
    expect((await b.get(o.id)).etag).toBe(o.etag);
    expect(await b.verify(new Map([[o.id, o.etag]]))).toMatchObject({ changed: [], deleted: [], checked: 1 });
  });
});
