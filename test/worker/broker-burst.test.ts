import { beforeAll, describe, expect, it } from "vitest";
import type { JWK } from "jose";
import { verifySchedule } from "../../calendar/schedule/schedule.ts";
import { api, configure, inMinutes } from "./helpers.ts";
import { retainedMatching } from "./mqtt-tap.ts";

/**
 * The Broker's outbox in workerd with a real Mosquitto: many ledgers publish
 * in the same moment, the Broker writes them together on its one
 * connection, and every resource ends up with a retained, signed schedule
 * that holds all of its bookings (a newer schedule replacing a queued one
 * loses nothing: it says everything the older one said).
 */
const SITE = `bb${crypto.randomUUID().slice(0, 6)}`;
const PREFIX = `test/${SITE}`;
const RESOURCES = Array.from({ length: 24 }, (_, i) => `r${i}`);
const PER_RESOURCE = 3;
let publicJwk: JWK;

beforeAll(async () => {
  ({ publicJwk } = await configure({}, { site: SITE, resources: RESOURCES.map((r) => `  ${r}: { kind: board, pool: boards, agent: host1 }`).join("\n") }));
});

describe("Broker under a burst", () => {
  it("every booking of a concurrent burst over many resources reaches that resource's retained schedule", async () => {
    const bookings = RESOURCES.flatMap((resource) => Array.from({ length: PER_RESOURCE }, (_, k) => ({ resource, start: inMinutes(30 + k * 60), end: inMinutes(60 + k * 60), purpose: `burst ${k}` })));
    const answers = await Promise.all(bookings.map((b) => api("POST", "/api/v1/reservations", b)));
    expect(answers.map((a) => a.status)).toEqual(bookings.map(() => 201));
    const ids = new Map<string, Set<string>>();
    for (const a of answers) {
      const [resource, id] = [a.body.reservation.resource as string, (a.body.reservation.id as string).split(":").slice(1).join(":")];
      if (!ids.has(resource)) ids.set(resource, new Set());
      ids.get(resource)!.add(id);
    }
    const verify = (jws: string, resource: string) => verifySchedule(jws, { keys: { [publicJwk.kid!]: publicJwk }, resources: [resource] });
    for (const resource of RESOURCES) {
      const m = await retainedMatching(`${PREFIX}/resources/${resource}/schedule`, async (p) => (await verify(p, resource)).entries.length === PER_RESOURCE, 30_000);
      expect(m.retained).toBe(true);
      const s = await verify(m.payload, resource);
      expect(new Set(s.entries.map((e) => e.id))).toEqual(ids.get(resource));
    }
  });
});
