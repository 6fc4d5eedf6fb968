import type { LabConfig } from "../../calendar/config/lab-config.ts";
import type { Reservation } from "../../calendar/model.ts";
import { signSchedule, type ScheduleNotice } from "../../calendar/schedule/schedule.ts";
import type { Env } from "../env.ts";
import { mqttPrefix } from "../lab.ts";
import type { Logger } from "../log.ts";
import { buildSchedule } from "./build.ts";
import { signingKeyOf } from "./signing-key.ts";

export function scheduleTopic(lab: LabConfig, resource: string): string {
  return `${mqttPrefix(lab)}/resources/${resource}/schedule`;
}

let warnedNoKey = false;

/** A schedule built and ready to sign, named by what it promises. */
export interface PreparedSchedule {
  /**
   * Everything the agents act on (topic, signing key, entries, notices),
   * without seq and times: two schedules with the same fingerprint grant
   * the same access, so re-signing one after a write that changed nothing
   * in the window buys the agents nothing.
   */
  fingerprint: string;
  /** Signs it with this seq and publishes it (retained, QoS 1); false when it should be retried. */
  publish(seq: number): Promise<boolean>;
}

/**
 * Builds the schedule an agent would get now; undefined when there is
 * nothing to publish to (no broker or no key configured).
 */
export function prepareSchedule(env: Env, lab: LabConfig, resource: string, now: Date, windowMs: number, reservations: Reservation[], log: Logger, notices: readonly ScheduleNotice[] = []): PreparedSchedule | undefined {
  if (!lab.mqtt) return undefined;
  const key = signingKeyOf(env);
  if (!key) {
    if (!warnedNoKey) log.warn("SCHEDULE_SIGNING_KEY not set: schedules are not published");
    warnedNoKey = true;
    return undefined;
  }
  const topic = scheduleTopic(lab, resource);
  const schedule = buildSchedule(lab, resource, 0, now, windowMs, reservations, log, notices);
  const { seq: _seq, issuedAt: _at, validUntil: _until, ...promises } = schedule;
  return {
    fingerprint: JSON.stringify([topic, key.kid, promises]),
    publish: async (seq) => {
      const jws = await signSchedule({ ...schedule, seq }, key);
      const broker = env.BROKER.get(env.BROKER.idFromName("broker"));
      const res = await broker.publish(topic, jws, { retain: true, qos: 1 });
      if (!res.ok) log.warn("schedule not published; will retry", { seq, error: res.error });
      else log.debug("schedule published", { seq });
      return res.ok;
    },
  };
}
