import { tryParseDuration } from "../../../calendar/duration.ts";
import type { ApiClient } from "../../client/api-client.ts";
import { UsageError } from "../main.ts";
import { parseOptions, SPECS } from "../spec.ts";
import { parse } from "./book-args.ts";
import { table, when } from "./output.ts";
import { client, print } from "./session.ts";
import { parseWhen } from "./time-args.ts";

interface ApiNotice {
  id: string;
  text: string;
  until: string;
  by: string;
  createdAt: string;
  resources: string[];
}

type NoticeValues = { pool?: string; all?: boolean; until?: string; list?: boolean; delete?: string; json?: boolean };

/**
 * `until` for the API: a duration stays a duration (the Worker adds it to its
 * own clock); a time of day or a date is read in this machine's zone, as
 * everywhere in the CLI, and sent as an instant.
 */
export function untilForApi(text: string, now = new Date()): string {
  if (tryParseDuration(text) !== undefined) return text;
  return parseWhen(text, now).toISOString();
}

/** The API's POST body from the command line: resources then the text, or --pool/--all and the text. */
export function noticeBody(positionals: string[], v: NoticeValues, now = new Date()): Record<string, unknown> {
  const targets = (v.pool !== undefined ? 1 : 0) + (v.all ? 1 : 0);
  if (targets > 1) throw new UsageError("give resources, --pool or --all, not several");
  const text = positionals.at(-1);
  const resources = positionals.slice(0, -1);
  if (text === undefined) throw new UsageError('say what to tell: labhog notice <resource…|--pool P|--all> "text"');
  if (targets && resources.length) throw new UsageError("give resources, --pool or --all, not several (quote the text: it is one argument)");
  if (!targets && !resources.length) throw new UsageError('say who it is for: a resource, --pool P or --all, then the text in quotes');
  const body: Record<string, unknown> = { text };
  if (v.all) body.all = true;
  else if (v.pool !== undefined) body.pool = v.pool;
  else body.resources = resources;
  if (v.until !== undefined) body.until = untilForApi(v.until, now);
  return body;
}

const rowsOf = (list: ApiNotice[], now: Date) => list.map((n) => [n.id, n.resources.join(","), n.by, when(n.until, now), n.text]);

async function list(api: ApiClient, positionals: string[], v: NoticeValues): Promise<number> {
  if (positionals.length > 1) throw new UsageError("--list takes at most one resource");
  const q = positionals[0] !== undefined ? `?resource=${encodeURIComponent(positionals[0])}` : "";
  const { notices } = await api.request<{ notices: ApiNotice[] }>("GET", `/api/v1/notices${q}`);
  const inPool = v.pool !== undefined ? new Set((await api.resources({ pool: v.pool })).resources.map((r) => r.id)) : undefined;
  const shown = inPool ? notices.filter((n) => n.resources.some((r) => inPool.has(r))) : notices;
  print(v.json, { notices: shown }, () => (shown.length ? table(["id", "resources", "by", "until", "text"], rowsOf(shown, new Date())) : "no notices"));
  return 0;
}

/** labhog notice … — send, list or delete notices. */
export async function runNotice(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, parseOptions(SPECS.notice.options));
  const v = values as NoticeValues;
  if (v.list && v.delete !== undefined) throw new UsageError("--list or --delete, not both");
  if (v.delete !== undefined) {
    if (positionals.length || v.pool !== undefined || v.all || v.until !== undefined) throw new UsageError("--delete takes only the notice id");
    const api = await client();
    const gone = await api.request<ApiNotice>("DELETE", `/api/v1/notices/${encodeURIComponent(v.delete)}`);
    print(v.json, gone, () => `deleted notice ${gone.id} (${gone.resources.join(", ")})`);
    return 0;
  }
  if (v.list) return list(await client(), positionals, v);
  const body = noticeBody(positionals, v);
  const api = await client();
  const n = await api.request<ApiNotice>("POST", "/api/v1/notices", body);
  print(v.json, n, () => `notice ${n.id} on ${n.resources.join(", ")} until ${when(n.until)}`);
  return 0;
}
