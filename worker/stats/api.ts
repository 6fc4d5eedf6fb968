import { z } from "@hono/zod-openapi";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { ValidationError } from "../../calendar/errors.ts";
import type { Reservation } from "../../calendar/model.ts";
import type { Env } from "../env.ts";
import { ledgerOf, unwrap } from "../ledger/client.ts";
import type { ReservationList } from "../ledger/protocol.ts";
import { computeStats, type StatsBy, type StatsResult } from "./compute.ts";

/**
 * GET /api/v1/stats: usage statistics read from the calendars (each
 * resource's ledger answers from its cache, or from the calendar itself for
 * windows older than the cache: ledger/history.ts).
 */
export const MAX_STATS_WINDOW_DAYS = 400;
export const DEFAULT_STATS_WINDOW_DAYS = 7;
const DAY_MS = 86_400_000;

const dateTime = z.iso.datetime({ offset: true, message: "an ISO 8601 date-time with offset, like 2026-05-01T09:00:00Z" });

export const StatsQuerySchema = z.strictObject({
  from: dateTime.optional().openapi({ description: `default: to − ${DEFAULT_STATS_WINDOW_DAYS} days` }),
  to: dateTime.optional().openapi({ description: "default: now" }),
  by: z.enum(["resource", "pool", "user"]).default("resource").openapi({ description: "how rows are grouped" }),
});

const StatsRowSchema = z
  .object({
    group: z.string().openapi({ description: "resource id, pool id (`(no pool)` for resources in none) or user id (`(unknown)` for holders labhog can't name)" }),
    resources: z.number().int().openapi({ description: "resources the capacity counts (by user: 1)" }),
    bookedHours: z.number().openapi({ description: "time covered by reservations in the window; overlapping reservations of one group on one resource count once; conflict losers count nothing" }),
    usedHours: z.number().openapi({ description: "use tallied into the reservations' X-LABHOG-USAGE, plus unbooked use" }),
    idleHours: z.number().openapi({ description: "booked time already past minus the use tallied into those bookings" }),
    unbookedHours: z.number().openapi({ description: "time covered by the \"unbooked use by …\" events" }),
    noShows: z.number().int().openapi({ description: "reservations released as no-shows that start in the window" }),
    utilisation: z.number().openapi({ description: "used / (window × resources), percent with one decimal" }),
    reservations: z.number().int(),
  })
  .openapi("StatsRow");

export const StatsSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    by: z.enum(["resource", "pool", "user"]),
    groups: z.array(StatsRowSchema),
    total: StatsRowSchema,
    lastSync: z.string().nullable().openapi({ description: "the oldest last good calendar sync of the resources read" }),
    stale: z.boolean().openapi({ description: "true when any resource answered from a cache whose calendar can't be reached" }),
  })
  .openapi("Stats");

export interface StatsWindow {
  from: number;
  to: number;
  by: StatsBy;
}

/** The window asked for, checked: from before to, at most MAX_STATS_WINDOW_DAYS long. */
export function statsWindow(q: { from?: string | undefined; to?: string | undefined; by?: StatsBy | undefined }, now = Date.now()): StatsWindow {
  const to = q.to ? Date.parse(q.to) : now;
  const from = q.from ? Date.parse(q.from) : to - DEFAULT_STATS_WINDOW_DAYS * DAY_MS;
  if (!(from < to)) throw new ValidationError("from must be before to", { path: "query.from" });
  if (to - from > MAX_STATS_WINDOW_DAYS * DAY_MS) throw new ValidationError(`the window may be at most ${MAX_STATS_WINDOW_DAYS} days long`, { path: "query.to" });
  return { from, to, by: q.by ?? "resource" };
}

export type { StatsAnswer } from "../../calendar/stats.ts";
import type { StatsAnswer } from "../../calendar/stats.ts";

/** Reads every resource's reservations of the window (in parallel) and computes the table. */
export async function loadStats(env: Env, lab: LabConfig, w: StatsWindow, now = Date.now()): Promise<StatsAnswer> {
  const resources = Object.entries(lab.resources).map(([id, r]) => ({ id, ...(r.pool ? { pool: r.pool } : {}) }));
  const from = new Date(w.from).toISOString();
  const to = new Date(w.to).toISOString();
  const lists = await Promise.all(resources.map((r) => unwrap<ReservationList>(ledgerOf(env, r.id).history(r.id, from, to))));
  const reservations: Reservation[] = lists.flatMap((l) => l.reservations);
  const syncs = lists.map((l) => l.lastSync);
  const lastSync = syncs.includes(null) ? null : (syncs as string[]).sort()[0] ?? null;
  return { ...computeStats({ from: w.from, to: w.to, now, by: w.by, resources, reservations }), lastSync, stale: lists.some((l) => l.stale) };
}
