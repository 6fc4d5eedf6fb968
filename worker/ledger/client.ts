import type { Reservation } from "../../calendar/model.ts";
import { NotFoundError } from "../../calendar/errors.ts";
import { isResource } from "../../calendar/lab.ts";
import { labOf } from "../lab.ts";
import { fromWire } from "../api/problem.ts";
import type { Env } from "../env.ts";
import type { Result } from "./protocol.ts";

/**
 * The ledger Durable Object of a resource (one per resource, addressed by its
 * id). Only for resources the lab file defines: a Durable Object addressed by
 * any other name would be created, and keep an alarm that can never succeed.
 */
export function ledgerOf(env: Env, resource: string) {
  if (!isResource(labOf(env), resource)) throw new NotFoundError(`no resource ${resource}`, { resource });
  return env.LEDGER.get(env.LEDGER.idFromName(resource));
}

export function brokerOf(env: Env) {
  return env.BROKER.get(env.BROKER.idFromName("broker"));
}

/** Unwraps a ledger answer, rethrowing its error as a LabhogError. */
export async function unwrap<T>(p: Promise<unknown>): Promise<T> {
  const r = (await p) as Result<T>;
  if (!r.ok) throw fromWire(r.error);
  return r.value;
}

/** API ids name the resource too: `<resource>:<event id>`. */
export function apiId(r: Pick<Reservation, "resource" | "id">): string {
  return `${r.resource}:${r.id}`;
}

export function splitApiId(id: string): { resource: string; id: string } | undefined {
  const i = id.indexOf(":");
  if (i <= 0 || i === id.length - 1) return undefined;
  return { resource: id.slice(0, i), id: id.slice(i + 1) };
}

export function forApi(r: Reservation): Reservation {
  return { ...r, id: apiId(r) };
}
