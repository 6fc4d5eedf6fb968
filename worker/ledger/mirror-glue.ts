import type { LabConfig } from "../../calendar/config/lab-config.ts";
import type { LiveUsage } from "../usage/live.ts";
import { emptyMirrorState, mirrorUsage, type MirrorOutcome, type MirrorPort, type MirrorState } from "../usage/mirror.ts";
import type { LedgerCore } from "./core.ts";
import { release } from "./writes.ts";
import { webhookReservation } from "../webhooks/events.ts";

/**
 * Usage mirroring (worker/usage/mirror.ts) runs in the ledger, the only
 * writer of this calendar: the live line on the running reservation,
 * unbooked use, no-shows. Its state persists under "mirror"; a line the
 * throttle held back is written by the alarm once the interval has passed.
 */
export function mirrorIntervalMs(env: Record<string, unknown>): number {
  const ms = Number(env.USAGE_WRITE_INTERVAL_MS ?? 60_000);
  return Number.isFinite(ms) && ms >= 0 ? ms : 60_000;
}

/** When the held-back line is due, from the stored state (undefined: nothing held back). */
export function mirrorDue(state: MirrorState | undefined, intervalMs: number): number | undefined {
  return state?.pending ? state.writtenAt + intervalMs : undefined;
}

function portOf(core: LedgerCore, lab: LabConfig): MirrorPort {
  return {
    lab,
    resource: core.resource,
    log: core.log(),
    reservations: (from, to) => core.view.reservations(from, to),
    object: (id) => core.state.objects.get(id),
    update: async (id, ics, etag) => core.store(await core.calendar("usage line", (cal, signal) => cal.update(id, ics, etag, { signal }))),
    create: async (uid, ics) => {
      const o = await core.calendar("unbooked use", (cal, signal) => cal.create(uid, ics, { signal }));
      await core.store(o);
      return { id: o.id };
    },
    release: async (id) => {
      // Told before the release: a reservation released this early may be deleted, and then nobody could say what it was.
      const r = core.view.find(id);
      core.tellWebhooks({ type: "reservation.no_show_released", timestamp: new Date().toISOString(), site: lab.site, data: { resource: core.resource, reservation: webhookReservation(r) } });
      await release(core, id, "release");
    },
  };
}

/** Runs the mirror with `live` (a report, or the held-back one). Returns the outcome and when the next held-back line is due. */
export async function mirror(core: LedgerCore, live: LiveUsage): Promise<{ out: MirrorOutcome; dueAt: number | undefined }> {
  const state = (await core.storage.get<MirrorState>("mirror")) ?? emptyMirrorState();
  const minIntervalMs = mirrorIntervalMs(core.env());
  const out = await mirrorUsage(portOf(core, core.lab()), state, live, { now: Date.now(), minIntervalMs });
  await core.storage.put("mirror", state);
  return { out, dueAt: mirrorDue(state, minIntervalMs) };
}

/** Writes the held-back line (from the alarm). */
export async function flushMirror(core: LedgerCore): Promise<number | undefined> {
  const state = await core.storage.get<MirrorState>("mirror");
  if (!state?.pending) return undefined;
  try {
    return (await mirror(core, state.pending)).dueAt;
  } catch (e) {
    core.log().warn("could not write the held-back usage line", { error: e });
    return undefined;
  }
}
