import { join } from "node:path";
import type { ScheduleEntry } from "../../calendar/schedule/schedule.ts";
import { writeFileAtomic } from "./atomic-file.ts";
import type { Enforcement } from "./enforcement.ts";

/**
 * The world-readable summary `labhog status` prints for a locked-out user:
 * who holds each resource until when, today's reservations and where to
 * look. No keys and no secrets: only what the motd shows anyway.
 */
export interface StatusSummary {
  agent: string;
  site: string;
  statusUrl?: string;
  updatedAt: string;
  resources: {
    id: string;
    served: boolean;
    holder: { id: string; unix: string[] } | null;
    reservation: string | null;
    start: string | null;
    end: string | null;
    exclusive: boolean | null;
    upcoming: { holder: string; start: string; end: string; exclusive: boolean }[];
    /** Whether the booking is in place on this host; null before the agent's first attempt. Absent in summaries of older agents. */
    enforcement?: Enforcement | null;
  }[];
}

export const DEFAULT_STATE_DIR = "/var/lib/labhog";
export const summaryPath = (stateDir: string) => join(stateDir, "status.json");

export function resourceSummary(id: string, served: boolean, active: ScheduleEntry | null, entries: readonly ScheduleEntry[], now: number, enforcement: Enforcement | null = null): StatusSummary["resources"][number] {
  return {
    enforcement,
    id,
    served,
    holder: active ? { id: active.holder.id, unix: active.holder.unix } : null,
    reservation: active?.id ?? null,
    start: active?.start ?? null,
    end: active?.end ?? null,
    exclusive: active?.exclusive ?? null,
    upcoming: entries
      .filter((e) => Date.parse(e.end) > now && e.id !== active?.id)
      .sort((a, b) => a.start.localeCompare(b.start))
      .slice(0, 5)
      .map((e) => ({ holder: e.holder.id, start: e.start, end: e.end, exclusive: e.exclusive })),
  };
}

export function writeSummary(stateDir: string, s: StatusSummary): Promise<void> {
  // Not fsync'd: derived from the state, and written again at every start-up and change (a write per enforcement).
  return writeFileAtomic(summaryPath(stateDir), JSON.stringify(s, null, 1) + "\n", 0o644, { durable: false });
}
