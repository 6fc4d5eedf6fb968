import { describe, expect, it } from "vitest";
import { withRetry, backoffDelay, defaultRetryPolicy } from "../../../calendar/backends/retry.ts";
import { ConnectionLostError, errorFromStatus, parseRetryAfter } from "../../../calendar/backends/http-errors.ts";
import { ConflictError, NotFoundError, PreconditionFailedError, UnauthorizedError, UnavailableError } from "../../../calendar/errors.ts";

describe("http status → typed errors", () => {
  const h = (o: Record<string, string> = {}) => new Headers(o);
  it.each([
    [401, UnauthorizedError], [404, NotFoundError], [410, NotFoundError], [409, ConflictError], [412, PreconditionFailedError],
    [429, UnavailableError], [502, UnavailableError], [503, UnavailableError], [504, UnavailableError],
  ])("%i → %o", (status, type) => {
    expect(errorFromStatus(status, h(), { what: "x" })).toBeInstanceOf(type);
  });
  it("500 is not transient", () => {
    expect(errorFromStatus(500, h(), { what: "x" })).not.toBeInstanceOf(UnavailableError);
  });
  it("reads Retry-After as seconds or an HTTP-date", () => {
    expect((errorFromStatus(503, h({ "Retry-After": "7" }), { what: "x" }) as UnavailableError).retryAfter).toBe(7);
    const now = Date.parse("2030-01-01T00:00:00Z");
    expect(parseRetryAfter("Tue, 01 Jan 2030 00:00:30 GMT", now)).toBe(30);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});

describe("withRetry", () => {
  const sleeps: number[] = [];
  const sleep = async (ms: number) => { sleeps.push(ms); };

  it("retries transient failures with growing backoff and then succeeds", async () => {
    sleeps.length = 0;
    let n = 0;
    const v = await withRetry(async () => { if (++n < 3) throw new UnavailableError("busy"); return "ok"; }, { sleep, random: () => 1 });
    expect(v).toBe("ok");
    expect(sleeps).toEqual([100, 200]);
  });

  it("honours Retry-After, and gives up at once when it is longer than the policy allows", async () => {
    sleeps.length = 0;
    let n = 0;
    await withRetry(async () => { if (++n < 2) throw new UnavailableError("busy", 2); return 1; }, { sleep });
    expect(sleeps).toEqual([2000]);
    await expect(withRetry(async () => { throw new UnavailableError("busy", 3600); }, { sleep })).rejects.toMatchObject({ retryAfter: 3600 });
    expect(sleeps).toEqual([2000]);
  });

  it("a first lost connection is retried at once (a stale pooled connection); later ones back off", async () => {
    sleeps.length = 0;
    const retried: number[] = [];
    let n = 0;
    await expect(
      withRetry(async () => { n++; throw new ConnectionLostError("PUT /x", new Error("Network connection lost.")); }, { sleep, random: () => 1, onRetry: (r) => retried.push(r.delayMs) }),
    ).rejects.toBeInstanceOf(ConnectionLostError);
    expect(n).toBe(defaultRetryPolicy.attempts);
    expect(retried).toEqual([0, 200, 400]);
    // Nothing slept for the immediate retry.
    expect(sleeps).toEqual([200, 400]);
    // Other transient errors keep their backoff from the first retry on.
    expect(backoffDelay(new UnavailableError("busy"), 1, defaultRetryPolicy, () => 1)).toBe(100);
  });

  it("never retries non-transient errors", async () => {
    let n = 0;
    await expect(withRetry(async () => { n++; throw new PreconditionFailedError("stale"); }, { sleep })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(n).toBe(1);
  });

  it("stops after the policy's attempts", async () => {
    let n = 0;
    await expect(withRetry(async () => { n++; throw new UnavailableError("down"); }, { sleep })).rejects.toBeInstanceOf(UnavailableError);
    expect(n).toBe(defaultRetryPolicy.attempts);
    expect(backoffDelay(new UnavailableError("x"), defaultRetryPolicy.attempts, defaultRetryPolicy)).toBeUndefined();
  });
});
