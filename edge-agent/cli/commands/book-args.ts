import { parseArgs } from "node:util";
import { UsageError } from "../main.ts";
import { parseOptions, SPECS } from "../spec.ts";
import { parseDuration, parseWhen } from "./time-args.ts";

/** Options shared by `book` and `lease`: what to book and for how long (described in cli/spec.ts). */
export const bookOptions = parseOptions(SPECS.book.options);

export type BookValues = ReturnType<typeof parseArgs<{ options: typeof bookOptions; allowPositionals: true }>>["values"];

export function parse<O extends Record<string, { type: "string" | "boolean"; multiple?: boolean }>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify.*$/s, ""));
  }
}

/** Builds the API's create body from CLI options. */
export function bookingBody(positionals: string[], v: BookValues, now = new Date()): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const targets = positionals.length + (v.pool ? 1 : 0) + (v.tag?.length ? 1 : 0);
  if (targets === 0) throw new UsageError("say what to book: a resource, --pool P or --tag k=v");
  if (v.pool && (positionals.length || v.tag?.length)) throw new UsageError("give a resource, --pool or --tag, not several");
  if (positionals.length > 1) body.resources = positionals;
  else if (positionals.length === 1) body.resource = positionals[0];
  else if (v.pool) body.pool = v.pool;
  else {
    const tags: Record<string, string> = {};
    for (const t of v.tag ?? []) {
      const i = t.indexOf("=");
      if (i <= 0) throw new UsageError(`--tag "${t}" is not k=v`);
      tags[t.slice(0, i)] = t.slice(i + 1);
    }
    body.tags = tags;
  }
  if (v.every !== undefined) Object.assign(body, seriesBody(positionals, v, now));
  else {
    for (const o of ["from", "count", "skip-conflicts"] as const) if (v[o] !== undefined) throw new UsageError(`--${o} goes with --every`);
    const start = v.start ? parseWhen(v.start, now) : undefined;
    if (start) body.start = start.toISOString();
    if (v.for && v.until) throw new UsageError("give --for or --until, not both");
    if (v.until) body.end = parseWhen(v.until, start ?? now).toISOString();
  }
  if (v.for) body.duration = parseDuration(v.for, "--for");
  if (v.shared) body.exclusive = false;
  if (v.purpose !== undefined) body.purpose = v.purpose;
  if (v.image !== undefined) body.image = v.image;
  if (v.mode !== undefined) body.mode = v.mode;
  if (v.holder !== undefined) body.holder = v.holder;
  if (v.wait !== undefined) body.wait = v.wait === "" ? 600 : Math.min(600, parseDuration(/^\d+$/.test(v.wait) ? `${v.wait}s` : v.wait, "--wait"));
  return body;
}

const DAYS = new Map<string, string>([
  ["mo", "MO"], ["mon", "MO"], ["monday", "MO"],
  ["tu", "TU"], ["tue", "TU"], ["tues", "TU"], ["tuesday", "TU"],
  ["we", "WE"], ["wed", "WE"], ["wednesday", "WE"],
  ["th", "TH"], ["thu", "TH"], ["thur", "TH"], ["thurs", "TH"], ["thursday", "TH"],
  ["fr", "FR"], ["fri", "FR"], ["friday", "FR"],
  ["sa", "SA"], ["sat", "SA"], ["saturday", "SA"],
  ["su", "SU"], ["sun", "SU"], ["sunday", "SU"],
]);
const FREQS = new Map<string, string>([["day", "daily"], ["daily", "daily"], ["week", "weekly"], ["weekly", "weekly"], ["month", "monthly"], ["monthly", "monthly"]]);

/**
 * `--every tue,thu --from 09:00 --for 3h --until 2027-03-01` (or `--count N`):
 * the API's `repeat`. --from (or --start) is the first occurrence's start;
 * the server moves it to the first named day. --until is the series' last
 * day here, not the end of one occurrence: a date, or a date and time.
 */
export function seriesBody(positionals: string[], v: BookValues, now = new Date()): Record<string, unknown> {
  if (positionals.length !== 1 || v.pool || v.tag?.length) throw new UsageError("--every books one resource: name it");
  if (v.from !== undefined && v.start !== undefined) throw new UsageError("give --from or --start, not both");
  if ((v.until === undefined) === (v.count === undefined)) throw new UsageError("--every needs --until <last day> or --count N (one of them)");
  const every = v.every!.trim().toLowerCase();
  const repeat: Record<string, unknown> = {};
  const freq = FREQS.get(every);
  if (freq) repeat.freq = freq;
  else {
    const days = every.split(",").map((d) => d.trim());
    const byDay = days.map((d) => {
      const code = DAYS.get(d);
      if (!code) throw new UsageError(`--every: "${d}" is not a day (mon…sun) or one of day, week, month`);
      return code;
    });
    repeat.freq = "weekly";
    repeat.byDay = [...new Set(byDay)];
  }
  if (v.count !== undefined) {
    if (!/^\d{1,3}$/.test(v.count) || Number(v.count) < 1) throw new UsageError(`--count: "${v.count}" is not a number of occurrences`);
    repeat.count = Number(v.count);
  } else if (/^\d{4}-\d{2}-\d{2}$/.test(v.until!)) repeat.until = v.until;
  else repeat.until = parseWhen(v.until!, now).toISOString();
  const from = v.from ?? v.start;
  return {
    start: (from !== undefined ? parseWhen(from, now) : now).toISOString(),
    repeat,
    ...(v["skip-conflicts"] ? { skipConflicts: true } : {}),
  };
}
