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

/**
 * Signs and publishes one schedule (retained, QoS 1) through the Broker
 * Durable Object. Returns false when it should be retried; true when done or
 * when there is nothing to publish to (no broker or no key configured).
 */
export async function publishSchedule(env: Env, lab: LabConfig, resource: string, seq: number, now: Date, windowMs: number, reservations: Reservation[], log: Logger, notices: readonly ScheduleNotice[] = []): Promise<boolean> {
  if (!lab.mqtt) return true;
  const key = signingKeyOf(env);
  if (!key) {
    if (!warnedNoKey) log.warn("SCHEDULE_SIGNING_KEY not set: schedules are not published");
    warnedNoKey = true;
    return true;
  }
  const jws = await signSchedule(buildSchedule(lab, resource, seq, now, windowMs, reservations, log, notices), key);
  const broker = env.BROKER.get(env.BROKER.idFromName("broker"));
  const res = await broker.publish(scheduleTopic(lab, resource), jws, { retain: true, qos: 1 });
  if (!res.ok) log.warn("schedule not published; will retry", { seq, error: res.error });
  else log.debug("schedule published", { seq });
  return res.ok;
}
