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
  const start = v.start ? parseWhen(v.start, now) : undefined;
  if (start) body.start = start.toISOString();
  if (v.for && v.until) throw new UsageError("give --for or --until, not both");
  if (v.for) body.duration = parseDuration(v.for, "--for");
  if (v.until) body.end = parseWhen(v.until, start ?? now).toISOString();
  if (v.shared) body.exclusive = false;
  if (v.purpose !== undefined) body.purpose = v.purpose;
  if (v.image !== undefined) body.image = v.image;
  if (v.mode !== undefined) body.mode = v.mode;
  if (v.holder !== undefined) body.holder = v.holder;
  if (v.wait !== undefined) body.wait = v.wait === "" ? 600 : Math.min(600, parseDuration(/^\d+$/.test(v.wait) ? `${v.wait}s` : v.wait, "--wait"));
  return body;
}
