import type { LabConfig } from "../../calendar/config/lab-config.ts";
import type { Reservation } from "../../calendar/model.ts";
import type { Principal } from "../auth/principal.ts";
import { assertMayChange, canBook } from "../auth/rights.ts";
import type { Env } from "../env.ts";
import { listRows, type ResourceView } from "../api/views.ts";
import { liveUsageOf, type LiveUsage } from "../usage/live.ts";
import { startOfDay } from "./time.ts";

/** Everything the status page shows, loaded in one go (one call per ledger: its snapshot and its week). */
export interface ResourceRow {
  view: ResourceView;
  /** Reservations in the timeline window, conflicts included. */
  reservations: Reservation[];
  usage: LiveUsage | null;
  mayBook: boolean;
}

export interface PoolGroup {
  id: string | null;
  name: string;
  rows: ResourceRow[];
}

export interface StatusModel {
  lab: LabConfig;
  tz: string;
  now: number;
  /** Timeline: local midnight today … +8 days. */
  from: number;
  to: number;
  groups: PoolGroup[];
  principal: Principal | null;
  /** Why a presented credential was refused (shown next to the sign-in form). */
  authProblem?: string;
  csrf: string;
  /** Nothing shown until the visitor signs in. */
  locked?: boolean;
  mayChange(r: Reservation): boolean;
}

/** Ledger waiting: how long the page waits for ledgers still waking (api/views.ts), and who keeps their syncs alive after. */
export interface LoadWait {
  waitMs?: number;
  waitUntil?: (p: Promise<unknown>) => void;
}

export async function loadStatus(env: Env, lab: LabConfig, principal: Principal | null, csrf: string, now = Date.now(), wait: LoadWait = {}): Promise<StatusModel> {
  const tz = lab.timezone;
  const from = startOfDay(tz, now);
  const to = startOfDay(tz, now, 8);
  // One calendar nobody can read must not take the whole page down: its row says so instead.
  const rows = (await listRows(env, lab, new Date(from).toISOString(), new Date(to).toISOString(), wait)).map(
    ({ view: v, reservations }): ResourceRow => ({
      view: v,
      reservations,
      // The agent's retained MQTT snapshot, else what it last POSTed (mirrored on the running reservation).
      usage: liveUsageOf(v.usage, v.id) ?? liveUsageOf((v.current.find((r) => r.usage) ?? v.unbookedUse)?.usage, v.id),
      mayBook: !!principal && canBook(principal, lab, v.id),
    }),
  );
  const groups: PoolGroup[] = Object.entries(lab.pools).map(([id, p]) => ({ id, name: p.name ?? id, rows: rows.filter((r) => r.view.pool === id) }));
  const loose = rows.filter((r) => !r.view.pool);
  if (loose.length) groups.push({ id: null, name: "Other resources", rows: loose });
  return {
    lab,
    tz,
    now,
    from,
    to,
    groups: groups.filter((g) => g.rows.length),
    principal,
    csrf,
    mayChange: (r) => {
      if (!principal) return false;
      try {
        assertMayChange(principal, lab, r.resource, r.holder.id);
        return true;
      } catch {
        return false;
      }
    },
  };
}
