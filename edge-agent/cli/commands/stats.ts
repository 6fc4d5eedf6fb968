import { tryParseDuration } from "../../../calendar/duration.ts";
import { UsageError } from "../main.ts";
import { parseOptions, SPECS } from "../spec.ts";
import { parse } from "./book-args.ts";
import type { StatsAnswer, StatsRow } from "../../../calendar/stats.ts";
import { table } from "./output.ts";
import { client, print } from "./session.ts";
import { parseWhen } from "./time-args.ts";

type Stats = StatsAnswer;

const BY = ["resource", "pool", "user"];

/**
 * A window edge: a date ("2026-05-04", local midnight), a local date and
 * time, an ISO date-time, or a duration meaning that long before now ("30d").
 * A bare time of day is refused: for a past window "18:00" would be ambiguous.
 */
export function parseEdge(text: string, now = new Date()): Date {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) return new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
  const back = tryParseDuration(text);
  if (back !== undefined && !/^\d+$/.test(text)) return new Date(now.getTime() - back * 1000);
  if (/^\d{1,2}:\d{2}$/.test(text)) throw new UsageError(`"${text}": give a date too ("2026-05-04 ${text}"), or a duration back from now (7d)`);
  return parseWhen(text, now);
}

const h = (n: number) => n.toFixed(2);
const cells = (r: StatsRow) => [r.group, h(r.bookedHours), h(r.usedHours), h(r.idleHours), h(r.unbookedHours), String(r.noShows), r.utilisation.toFixed(1), String(r.reservations)];
const HEAD = ["booked h", "used h", "idle h", "unbooked h", "no-shows", "util %", "reservations"];

/** RFC 4180: quote a field holding a comma, quote or line break. */
const csvField = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function statsText(s: Stats, csv: boolean): string {
  const head = [s.by, ...HEAD];
  const rows = [...s.groups.map(cells), cells(s.total)];
  if (csv) return [head, ...rows].map((r) => r.map(csvField).join(",")).join("\n");
  const note = s.stale ? "\n(some calendars could not be reached: their part is from the Worker's cache)" : "";
  return `${s.from} – ${s.to}\n${table(head, rows)}${note}`;
}

/** labhog stats [--from when] [--to when] [--by resource|pool|user] [--json|--csv] */
export async function runStats(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, parseOptions(SPECS.stats.options));
  if (positionals.length) throw new UsageError(`labhog stats takes no arguments (got "${positionals[0]}")`);
  if (values.by !== undefined && !BY.includes(values.by)) throw new UsageError(`--by ${values.by}: one of ${BY.join(", ")}`);
  if (values.json && values.csv) throw new UsageError("--json or --csv, not both");
  const now = new Date();
  const q = new URLSearchParams();
  if (values.from) q.set("from", parseEdge(values.from, now).toISOString());
  if (values.to) q.set("to", parseEdge(values.to, now).toISOString());
  if (values.by) q.set("by", values.by);
  const api = await client();
  const stats = await api.request<Stats>("GET", `/api/v1/stats${q.size ? `?${q}` : ""}`);
  print(values.json, stats, () => statsText(stats, values.csv === true));
  return 0;
}
