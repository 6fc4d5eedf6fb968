import { z } from "zod";
import { ValidationError } from "./errors.ts";

/**
 * The one duration grammar: the lab file, the agent file, the API, the CLI
 * and power steps all read durations here, so `2` means the same everywhere
 * (two seconds) and every error says the same thing.
 *
 * - a bare number (YAML/JSON number or digits in a string): seconds;
 * - units in descending order, each once, spaces allowed between parts:
 *   `1w`, `1d`, `2h`, `30m`, `90s`, `500ms`, `1h30m`, `1d 12h`, `1.5s`;
 * - ISO 8601 / RFC 5545 durations: `PT2H`, `PT1H30M`, `P1D`, `P1DT2H`, `P2W`.
 *
 * Days and weeks are fixed lengths here (86,400 s and 7 days): these are
 * amounts of waiting or booking, not calendar arithmetic (that lives in
 * calendar/ical/times.ts). Months and years are refused: they have no length.
 */

export const DURATION_ACCEPTED = "a number of seconds, or like 90s, 30m, 2h, 1d, 1h30m, 500ms, or ISO 8601 like PT2H or P1D";

const UNIT_SECONDS = { w: 604_800, d: 86_400, h: 3600, m: 60, s: 1, ms: 0.001 } as const;
type Unit = keyof typeof UNIT_SECONDS;
const NUM = String.raw`(\d+(?:\.\d+)?)`;
const BARE = new RegExp(`^${NUM}$`);
const HUMAN = new RegExp(`^(?:${NUM}\\s*w\\s*)?(?:${NUM}\\s*d\\s*)?(?:${NUM}\\s*h\\s*)?(?:${NUM}\\s*m(?!s)\\s*)?(?:${NUM}\\s*s\\s*)?(?:${NUM}\\s*ms)?$`);
const HUMAN_UNITS: Unit[] = ["w", "d", "h", "m", "s", "ms"];
const ISO = new RegExp(`^P(?:${NUM}W)?(?:${NUM}D)?(?:T(?=\\d)(?:${NUM}H)?(?:${NUM}M)?(?:${NUM}S)?)?$`);
const ISO_UNITS: Unit[] = ["w", "d", "h", "m", "s"];
/** Longer strings are never a duration; keeps the regexes' work bounded. */
const MAX_CHARS = 40;

function shown(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value.length > MAX_CHARS ? `${value.slice(0, MAX_CHARS)}…` : value) : String(value);
}

/** The value and what was wrong with it, for one error text everywhere. */
export function durationProblem(value: unknown): string {
  return `${shown(value)} is not a duration: use ${DURATION_ACCEPTED}`;
}

/** Seconds, or undefined when `value` is not in the grammar. */
export function tryParseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (!text || text.length > MAX_CHARS) return undefined;
  const bare = BARE.exec(text);
  if (bare) return Number(bare[1]);
  const human = HUMAN.exec(text);
  if (human) return sum(human, HUMAN_UNITS);
  const iso = ISO.exec(text.toUpperCase());
  if (iso) return sum(iso, ISO_UNITS);
  return undefined;
}

function sum(m: RegExpExecArray, units: Unit[]): number | undefined {
  let total = 0;
  let any = false;
  units.forEach((u, i) => {
    const v = m[i + 1];
    if (v === undefined) return;
    any = true;
    total += Number(v) * UNIT_SECONDS[u];
  });
  // Whole milliseconds: "0.1s" + "200ms" must not come out as 0.30000000000000004.
  return any ? Math.round(total * 1000) / 1000 : undefined;
}

/** Seconds; ValidationError saying what is accepted otherwise. */
export function parseDuration(value: unknown): number {
  const s = tryParseDuration(value);
  if (s === undefined) throw new ValidationError(durationProblem(value), { value: typeof value === "string" ? value.slice(0, MAX_CHARS) : value });
  return s;
}

/** Whole milliseconds. */
export function parseDurationMs(value: unknown): number {
  return Math.round(parseDuration(value) * 1000);
}

/** The shortest text in the grammar for `seconds`: 5400 → "1h30m", 0.5 → "500ms", 0 → "0s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`cannot format ${seconds} as a duration`);
  let ms = Math.round(seconds * 1000);
  if (ms === 0) return "0s";
  let out = "";
  for (const u of ["d", "h", "m", "s", "ms"] as const) {
    const size = Math.round(UNIT_SECONDS[u] * 1000);
    const n = Math.floor(ms / size);
    if (n > 0) out += `${n}${u}`;
    ms -= n * size;
  }
  return out;
}

export interface DurationSchemaOptions {
  /** Smallest accepted, in seconds (inclusive); default 0. */
  min?: number;
  /** Largest accepted, in seconds (inclusive). */
  max?: number;
  /** Words accepted besides durations, kept as written (the hog's `sessionGrace: off`). */
  words?: string[];
}

/**
 * A zod schema for a duration field. The value stays as written (so configs
 * echo back what their author wrote); read it with parseDuration(). Numbers
 * and strings alike; out-of-range values name the range in the grammar's own words.
 */
export function durationSchema(opts: DurationSchemaOptions = {}) {
  const { min = 0, max, words = [] } = opts;
  const orWords = words.length ? `, or ${words.join(", ")}` : "";
  return z.union([z.number(), z.string()]).superRefine((v, ctx) => {
    if (typeof v === "string" && words.includes(v)) return;
    const s = tryParseDuration(v);
    if (s === undefined) ctx.addIssue({ code: "custom", message: durationProblem(v) + orWords });
    else if (s < min) ctx.addIssue({ code: "custom", message: `${shown(v)} is shorter than ${formatDuration(min)}` });
    else if (max !== undefined && s > max) ctx.addIssue({ code: "custom", message: `${shown(v)} is longer than ${formatDuration(max)}` });
  });
}
