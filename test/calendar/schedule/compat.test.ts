import { CompactSign, importJWK } from "jose";
import { describe, expect, it } from "vitest";
import { generateSigningKey, ScheduleRejectedError, verifySchedule } from "../../../calendar/schedule/schedule.ts";

/**
 * A schedule from a newer Worker, with fields this agent doesn't know,
 * signed like any other: the agent enforces what it knows and ignores the
 * rest, instead of refusing it and falling back to its last schedule. A
 * schedule of another version is still refused.
 */
async function signRaw(payload: unknown) {
  const k = await generateSigningKey("k1");
  const key = await importJWK(k.privateJwk, "EdDSA");
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: "EdDSA", kid: "k1" }).sign(key);
  return { jws, keys: { k1: k.publicJwk } };
}
const now = Date.now();
const base = {
  v: 1,
  resource: "host1",
  seq: now,
  issuedAt: new Date(now).toISOString(),
  validUntil: new Date(now + 3600_000).toISOString(),
  entries: [{ id: "r1", holder: { id: "bob", unix: ["bob"], keys: [] }, start: new Date(now).toISOString(), end: new Date(now + 600_000).toISOString(), exclusive: true }],
};

describe("schedules from a newer Worker", () => {
  it("unknown fields at the top, in an entry and in its holder are ignored; what is known is enforced", async () => {
    const { jws, keys } = await signRaw({ ...base, tomorrow: { x: 1 }, entries: [{ ...base.entries[0], priority: 3, holder: { ...base.entries[0]!.holder, team: "fw" } }] });
    const s = await verifySchedule(jws, { keys, resources: ["host1"] });
    expect(s.entries).toEqual(base.entries);
    expect(s).not.toHaveProperty("tomorrow");
  });

  it("another version, or a known field that is wrong, is still refused", async () => {
    for (const payload of [{ ...base, v: 2 }, { ...base, entries: [{ ...base.entries[0], exclusive: "yes" }] }]) {
      const { jws, keys } = await signRaw(payload);
      const err = await verifySchedule(jws, { keys, resources: ["host1"] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ScheduleRejectedError);
      expect((err as ScheduleRejectedError).reason).toBe("invalid-payload");
    }
  });
});
