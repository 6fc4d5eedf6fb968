import type { Context, MiddlewareHandler } from "hono";
import { setMetric, timing } from "hono/timing";
import { effectiveEnv, type Env } from "../env.ts";
import type { Result } from "../ledger/protocol.ts";

/**
 * Server-Timing (W3C) on booking answers, when the Worker's SERVER_TIMING var
 * is "on": where a booking's time went, so a slow booking can be told apart
 * into the calendar's own answer, the ledger's work and the rest of the
 * Worker (`npm run bench worker` reads it). Off by default: how long the
 * calendar takes is the lab operators' business, not every API caller's.
 *
 *   total     the Worker's handling, middleware included ("in the Worker")
 *   ledger    ledger Durable Object calls, round trip (hop and output gate included)
 *   ledger-op inside the ledger: the operation, its queue wait included
 *   calendar  the calendar calls the operation made
 *
 * Durations are whole milliseconds: workerd's clock only moves across I/O.
 */
export function serverTiming(): MiddlewareHandler {
  return timing({ enabled: (c) => effectiveEnv(c.env as Env).SERVER_TIMING === "on", totalDescription: "in the Worker" });
}

/** The ledger calls of one request, summed (an "any"/"all" booking makes several). */
export class LedgerTimings {
  #rpcMs = 0;
  #opMs = 0;
  #calendarMs = 0;
  #calls = 0;

  async measure<R>(call: PromiseLike<R>): Promise<R> {
    const began = Date.now();
    const r = await call;
    this.#rpcMs += Date.now() - began;
    this.#calls++;
    const t = (r as Result<unknown>).timing;
    if (t) {
      this.#opMs += t.ms;
      this.#calendarMs += t.calendarMs;
    }
    return r;
  }

  /** Adds the sums to the request's Server-Timing (the middleware above must run for this route). */
  report(c: Context): void {
    if (!this.#calls) return;
    setMetric(c, "ledger", this.#rpcMs, "ledger DO round trip");
    setMetric(c, "ledger-op", this.#opMs, "inside the ledger");
    setMetric(c, "calendar", this.#calendarMs, "calendar calls");
  }
}

/** A Server-Timing header (`name;dur=12;desc="…", …`) as name → ms, for its readers (bench worker, the tests). */
export function serverTimings(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of (header ?? "").split(",")) {
    const [name, ...params] = entry.trim().split(";");
    const dur = params.find((p) => p.trim().startsWith("dur="));
    if (name && dur) out[name] = Number(dur.trim().slice(4));
  }
  return out;
}
