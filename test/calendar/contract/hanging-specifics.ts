/**
 * A calendar server that hangs must cost a backend call its deadline and no
 * more. Runs in Node and in workerd (no node: imports): the
 * backend connects to the real server (Radicale) and then, by a fetch that
 * reroutes to another origin, talks to a REAL TCP listener that accepts and
 * never answers ("silent") or answers headers then trickles body bytes
 * forever ("trickle"); see test/calendar/hanging-server.ts.
 *
 * No timed assertions beyond a generous correctness guard (< 3× the
 * deadline, which a 120 s × 4 tries transport fails by minutes); the
 * figures are printed for bench/.
 */
import { describe, expect, it } from "vitest";
import type { CaldavBackend } from "../../../calendar/backends/caldav/backend.ts";
import { CalendarTimeoutError, CalendarUnavailableError, UnavailableError, isCalendarUnreachable } from "../../../calendar/errors.ts";
import type { CaldavConnect } from "./caldav-specifics.ts";
import { icsEvent, testUid } from "./ics-builder.ts";

export interface HangingListener {
  url: string;
  /** Node only: what the listener saw (accepted/closed connections), to show the client let go. */
  stats?: () => { accepted: number; requests: number; closed: number };
}

const t0 = Date.UTC(2030, 0, 1, 9);
const DEADLINE = 1_500;

/** Real fetch, sent to `to()`'s origin instead when it names one. */
function rerouting(to: () => string | undefined): typeof fetch {
  return (input, init) => {
    const target = to();
    if (!target) return globalThis.fetch(input, init);
    const u = new URL(typeof input === "string" || input instanceof URL ? String(input) : input.url);
    const t = new URL(target);
    u.protocol = t.protocol;
    u.host = t.host;
    return globalThis.fetch(u.href, init);
  };
}

async function outcome(p: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const start = Date.now();
  try {
    await p;
    return { error: undefined, ms: Date.now() - start };
  } catch (e) {
    return { error: e, ms: Date.now() - start };
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

export function hangingSpecifics(name: string, connect: CaldavConnect, listeners: { silent: HangingListener; trickle: HangingListener }): void {
  describe(`a hanging calendar server is bounded (${name})`, () => {
    for (const kind of ["silent", "trickle"] as const) {
      const listener = listeners[kind];

      it(`${kind}: every backend call fails with CalendarTimeoutError (503, retryAfter) within its deadline`, async () => {
        let hang = false;
        const s = await connect({ fetch: rerouting(() => (hang ? listener.url : undefined)), deadlineMs: DEADLINE, retry: { baseDelayMs: 10 } });
        const b: CaldavBackend = s.backend;
        try {
          const uid = testUid(`hang-${kind}`);
          const ics = icsEvent({ uid, start: new Date(t0), end: new Date(t0 + 3_600_000) });
          const made = await b.create(uid, ics);
          const { token } = await b.sync(null);
          const before = listener.stats?.();
          hang = true;
          const ops: Array<[string, () => Promise<unknown>]> = [
            ["list", () => b.list({ start: new Date(t0), end: new Date(t0 + 86_400_000) })],
            ["sync (full)", () => b.sync(null)],
            ["sync (incremental)", () => b.sync(token)],
            ["verify", () => b.verify(new Map([[made.id, made.etag]]))],
            ["get", () => b.get(made.id)],
            ["create", () => { const u = testUid("hang-new"); return b.create(u, icsEvent({ uid: u, start: new Date(t0), end: new Date(t0 + 3_600_000) })); }],
            ["update", () => b.update(made.id, ics.replace("SUMMARY:", "SUMMARY:changed "), made.etag)],
            ["delete", () => b.delete(made.id, made.etag)],
          ];
          const figures: string[] = [];
          for (const [op, call] of ops) {
            const { error, ms } = await outcome(call());
            expect(error, `${op} against a ${kind} server`).toBeInstanceOf(CalendarTimeoutError);
            const te = error as CalendarTimeoutError;
            expect(te.status).toBe(503);
            expect(te.retryAfter).toBeGreaterThan(0);
            expect(te.code).toBe("calendar-timeout");
            // Correctness guard only (the old transport took 4 × 120 s); real figures go to bench/.
            expect(ms, `${op} took ${ms} ms`).toBeLessThan(3 * DEADLINE);
            figures.push(`${op} ${ms} ms`);
          }
          console.log(`[${name}] ${kind} server, deadline ${DEADLINE} ms: ${figures.join(", ")}`);
          // The abandoned calls hold nothing: with the server back (more hung calls than
          // workerd's six simultaneous connections behind us), the next call just works.
          hang = false;
          expect((await b.get(made.id)).etag).toBe(made.etag);
          const after = listener.stats?.();
          if (before && after) {
            // The requests really reached the listener, and every connection was let go.
            expect(after.requests - before.requests).toBeGreaterThanOrEqual(ops.length);
            expect(await until(() => listener.stats!().closed === listener.stats!().accepted, 10_000), "connections left open").toBe(true);
          }
        } finally {
          hang = false;
          await s.cleanup();
        }
      }, 60_000);
    }

    it("connect (discovery) is bounded by the same deadline", async () => {
      const { error, ms } = await outcome(connect({ fetch: rerouting(() => listeners.silent.url), deadlineMs: DEADLINE }));
      expect(error).toBeInstanceOf(CalendarTimeoutError);
      expect(ms).toBeLessThan(3 * DEADLINE);
    });

    it("the caller's signal ends a call with the caller's own error; a per-call deadlineMs overrides the backend's", async () => {
      let hang = false;
      const s = await connect({ fetch: rerouting(() => (hang ? listeners.silent.url : undefined)), deadlineMs: 600_000 });
      try {
        hang = true;
        const ac = new AbortController();
        const mine = new CalendarUnavailableError("the ledger's booking deadline passed", 7);
        setTimeout(() => ac.abort(mine), 300);
        const a = await outcome(s.backend.sync(null, { signal: ac.signal }));
        expect(a.error).toBe(mine);
        // An AbortSignal.timeout from the caller reads as a calendar timeout.
        const b = await outcome(s.backend.get("/nothing.ics", { signal: AbortSignal.timeout(300) }));
        expect(b.error).toBeInstanceOf(CalendarTimeoutError);
        const c = await outcome(s.backend.get("/nothing.ics", { deadlineMs: 400 }));
        expect(c.error).toBeInstanceOf(CalendarTimeoutError);
        expect((c.error as CalendarTimeoutError).deadlineMs).toBe(400);
        expect(Math.max(a.ms, b.ms, c.ms)).toBeLessThan(3 * DEADLINE);
      } finally {
        hang = false;
        await s.cleanup();
      }
    });

    it("retries and backoff stay inside the deadline: short tries are retried, the call still ends in time, as a 503", async () => {
      let hang = false;
      const s = await connect({ fetch: rerouting(() => (hang ? listeners.silent.url : undefined)), deadlineMs: DEADLINE, timeoutMs: 200, retry: { attempts: 50, baseDelayMs: 50, maxDelayMs: 200 } });
      try {
        const before = listeners.silent.stats?.().requests;
        hang = true;
        const { error, ms } = await outcome(s.backend.sync(null));
        // The deadline either cut a try (CalendarTimeoutError) or a backoff would have crossed it (the last 503).
        expect(isCalendarUnreachable(error), String(error)).toBe(true);
        expect(error instanceof CalendarTimeoutError || error instanceof UnavailableError).toBe(true);
        expect(ms).toBeLessThan(3 * DEADLINE);
        if (before !== undefined) expect(listeners.silent.stats!().requests - before).toBeGreaterThanOrEqual(2);
      } finally {
        hang = false;
        await s.cleanup();
      }
    });
  });
}
