import type { ApiResource } from "../../client/api-client.ts";
import { LabhogError } from "../../../calendar/errors.ts";
import { parse } from "./book-args.ts";
import { parseOptions, SPECS } from "../spec.ts";
import { client, print } from "./session.ts";
import { parseDuration } from "./time-args.ts";
import { UsageError } from "../main.ts";
import { progressFor } from "../progress.ts";
import { unknownState, when } from "./output.ts";

export class WaitTimeoutError extends LabhogError {
  constructor(message: string) { super("timeout", 408, message); }
}

/** Free as the Worker knows it now: a resource whose calendar wasn't read yet, or can't be reached, is never taken as free. */
export function isFree(r: ApiResource): boolean {
  return unknownState(r) === null && !r.stale && r.agent?.status !== "offline" && !r.current.some((c) => c.state === "active" && c.exclusive);
}

/** Why a resource is not free, for the progress line. */
export function blockedBy(r: ApiResource): string {
  const unknown = unknownState(r);
  if (unknown) return `${r.id}: ${unknown}`;
  if (r.stale) return `${r.id}: unknown: calendar unreachable${r.unreachableSince ? ` since ${when(r.unreachableSince)}` : ""}`;
  if (r.agent?.status === "offline") return `${r.id}: its agent is offline`;
  const cur = r.current.find((c) => c.state === "active" && c.exclusive);
  return cur ? `${r.id} held by ${cur.holder.id ?? "an unknown holder"} until ${when(cur.end)}` : `${r.id} busy`;
}

/** labhog wait <resource|--pool P|--tag k=v> [--timeout 10m] [--interval 5s]: until one is free (does not book it). */
export async function runWait(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, parseOptions(SPECS.wait.options));
  if (!positionals[0] && !values.pool && !values.tag?.length) throw new UsageError("say what to wait for: a resource, --pool P or --tag k=v");
  const api = await client();
  const deadline = Date.now() + parseDuration(values.timeout ?? "1h", "--timeout") * 1000;
  const interval = parseDuration(values.interval ?? "5s", "--interval") * 1000;
  const log = progressFor("wait", { json: values.json });
  let said = "";
  for (;;) {
    const candidates = positionals[0]
      ? [await api.resource(positionals[0])]
      : (await api.resources({ ...(values.pool ? { pool: values.pool } : {}), ...(values.tag ? { tag: values.tag } : {}) })).resources;
    const free = candidates.find(isFree);
    const why = free ? "" : candidates.map(blockedBy).join("; ");
    if (why && why !== said) {
      said = why;
      log.info("waiting", { blockedBy: why }, `waiting: ${why}`);
    }
    if (free) {
      print(values.json, { resource: free.id }, () => `${free.id} is free`);
      return 0;
    }
    if (Date.now() + interval > deadline) throw new WaitTimeoutError(`nothing became free within ${values.timeout ?? "1h"}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
