/**
 * The shape of the usage statistics (GET /api/v1/stats): shared by the
 * Worker, which computes them (worker/stats/compute.ts), and the CLI, which
 * prints them (edge-agent/cli/commands/stats.ts).
 */
export type StatsBy = "resource" | "pool" | "user";

export interface StatsRow {
  group: string;
  /** Resources the capacity counts (by user: 1). */
  resources: number;
  bookedHours: number;
  usedHours: number;
  idleHours: number;
  unbookedHours: number;
  noShows: number;
  /** Percent of capacity, one decimal. */
  utilisation: number;
  /** Reservations (occurrences) touching the window, losers and unbooked use not counted. */
  reservations: number;
}

export interface StatsResult {
  from: string;
  to: string;
  by: StatsBy;
  groups: StatsRow[];
  total: StatsRow;
}

/** What the API answers: the result and the freshness of the calendars read. */
export type StatsAnswer = StatsResult & { lastSync: string | null; stale: boolean };
