import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { durationSeconds } from "../../calendar/config/lab-config.ts";
import { ConflictError, ForbiddenError, LabhogError, NotFoundError, ValidationError } from "../../calendar/errors.ts";
import type { Reservation } from "../../calendar/model.ts";
import { isPool, isResource, isUser, resourceConfigOf } from "../../calendar/lab.ts";
import { own } from "../../calendar/config/own.ts";
import type { Principal } from "../auth/principal.ts";
import { assertMayBookFor, canBook, isAdmin } from "../auth/rights.ts";
import type { AgentState } from "../broker/agent-state.ts";
import type { Env } from "../env.ts";
import { brokerOf, forApi, ledgerOf, unwrap } from "../ledger/client.ts";
import type { BookRequest, ConflictInfo, Repeat, SeriesBooked } from "../ledger/protocol.ts";
import { log } from "../log.ts";
import { durationMs } from "./schemas.ts";
import type { LedgerTimings } from "./server-timing.ts";

export interface CreateInput {
  resource?: string;
  resources?: string[];
  pool?: string;
  tags?: Record<string, string>;
  start?: string;
  end?: string;
  duration?: number | string;
  exclusive: boolean;
  purpose: string;
  image?: string;
  mode?: string;
  holder?: string;
  lease?: { ttl: number };
  wait: number;
  repeat?: Repeat;
  skipConflicts?: boolean;
}

export interface Created {
  reservations: Reservation[];
  grantedAt: string;
  waited: number;
  /** Recurring bookings: the occurrences left out (EXDATE) because they conflicted. */
  skipped?: string[];
}

type Target = { kind: "one" | "any"; resources: string[] } | { kind: "all"; resources: string[] };

async function agentStates(env: Env): Promise<Record<string, AgentState>> {
  try {
    return await brokerOf(env).agents();
  } catch (e) {
    log.warn("agent states unavailable", { error: e });
    return {};
  }
}

const measured = <R>(timings: LedgerTimings | undefined, call: Promise<R>): Promise<R> => (timings ? timings.measure(call) : call);

/** Which resources a create may use; "any free one" skips resources whose agent is offline. */
async function targetsOf(env: Env, lab: LabConfig, p: Principal, input: CreateInput, holder: string): Promise<Target> {
  const known = (r: string) => {
    if (!isResource(lab, r)) throw new NotFoundError(`no resource ${r}`, { resource: r });
    return r;
  };
  if (input.resource) {
    assertMayBookFor(p, lab, known(input.resource), holder);
    return { kind: "one", resources: [input.resource] };
  }
  if (input.resources) {
    const rs = [...new Set(input.resources.map(known))];
    for (const r of rs) assertMayBookFor(p, lab, r, holder);
    return { kind: "all", resources: rs };
  }
  let rs = Object.entries(lab.resources)
    .filter(([, r]) => (input.pool ? r.pool === input.pool : Object.entries(input.tags ?? {}).every(([k, v]) => own(r.tags, k) === v)))
    .map(([id]) => id);
  if (input.pool && !isPool(lab, input.pool)) throw new NotFoundError(`no pool ${input.pool}`, { pool: input.pool });
  if (!rs.length) throw new NotFoundError(input.pool ? `pool ${input.pool} has no resources` : "no resource has all those tags");
  rs = rs.filter((r) => (holder === (p.kind === "user" ? p.id : "") ? canBook(p, lab, r) : isAdmin(p, lab, r)));
  if (!rs.length) throw new ForbiddenError(`${p.id} may not book any of those resources`);
  const agents = await agentStates(env);
  const online = rs.filter((r) => {
    const a = resourceConfigOf(lab, r)?.agent;
    return !a || own(agents, a)?.status !== "offline";
  });
  if (!online.length) throw new LabhogError("agents-offline", 503, "every matching resource's agent is offline", { resources: rs, retryAfter: 30 });
  return { kind: "any", resources: online };
}

function conflictDetail(e: unknown): { conflicts: ConflictInfo[]; nextFree: { start: string; end: string } | null } | undefined {
  if (!(e instanceof LabhogError) || e.status !== 409) return undefined;
  const d = (e.detail ?? {}) as { conflicts?: ConflictInfo[]; nextFree?: { start: string; end: string } | null; resource?: string };
  const resource = d.resource;
  const conflicts = (d.conflicts ?? []).map((c) => ({ ...c, id: resource && !c.id.startsWith("hold:") ? `${resource}:${c.id}` : c.id }));
  return { conflicts, nextFree: d.nextFree ?? null };
}

/** One attempt over the targets: the first free one, or all of them (two-phase) for "all". */
async function attempt(env: Env, target: Target, req: BookRequest, timings?: LedgerTimings): Promise<Reservation[]> {
  if (target.kind !== "all") {
    const errors: unknown[] = [];
    for (const r of target.resources) {
      try {
        return [await unwrap<Reservation>(measured(timings, ledgerOf(env, r).book(r, req)))];
      } catch (e) {
        if (!(e instanceof LabhogError) || e.status !== 409 || target.kind === "one") throw e;
        errors.push(e);
      }
    }
    const details = errors.map(conflictDetail).filter((d) => d !== undefined);
    const nextFree = details.map((d) => d.nextFree).filter((s) => s !== null).sort((a, b) => Date.parse(a.start) - Date.parse(b.start))[0] ?? null;
    throw new ConflictError(`all ${target.resources.length} candidates are booked at that time`, { conflicts: details.flatMap((d) => d.conflicts), nextFree });
  }
  // Atomic: hold every slot first (others see them taken), then commit; any failure undoes the lot.
  const held: Array<{ resource: string; hold: string }> = [];
  try {
    for (const r of target.resources) held.push({ resource: r, hold: await unwrap<string>(measured(timings, ledgerOf(env, r).hold(r, req))) });
  } catch (e) {
    await Promise.allSettled(held.map((h) => ledgerOf(env, h.resource).releaseHold(h.resource, h.hold)));
    throw e;
  }
  const done: Reservation[] = [];
  try {
    for (const h of held) done.push(await unwrap<Reservation>(measured(timings, ledgerOf(env, h.resource).commitHold(h.resource, h.hold))));
    return done;
  } catch (e) {
    const committed = new Set(done.map((d) => d.resource));
    await Promise.allSettled([
      ...done.map((d) => ledgerOf(env, d.resource).retract(d.resource, d.id)),
      ...held.filter((h) => !committed.has(h.resource)).map((h) => ledgerOf(env, h.resource).releaseHold(h.resource, h.hold)),
    ]);
    throw e;
  }
}

/** Creates reservations (one, any free one, or all at once), waiting up to `wait` seconds for the slot. */
export async function createReservations(env: Env, lab: LabConfig, p: Principal, input: CreateInput, timings?: LedgerTimings): Promise<Created> {
  if (p.kind !== "user") throw new ForbiddenError(`${p.kind} ${p.id} may not book`);
  const holder = input.holder ?? p.id;
  if (!isUser(lab, holder)) throw new ValidationError(`unknown user ${holder}`, { path: "holder" });
  const target = await targetsOf(env, lab, p, input, holder);
  const began = Date.now();
  const deadline = began + input.wait * 1000;
  const startGiven = input.start !== undefined;
  let lengthMs: number;
  if (input.end) lengthMs = Date.parse(input.end) - Date.parse(input.start ?? new Date(began).toISOString());
  else lengthMs = durationMs(input.duration ?? durationSeconds(lab.policy.defaultDuration));
  if (!(lengthMs > 0)) throw new ValidationError("end must be after start", { path: input.end ? "end" : "duration" });
  if (input.repeat) return createSeries(env, target, holder, input, input.repeat, lengthMs, timings);
  for (;;) {
    const now = Date.now();
    const start = startGiven ? input.start! : new Date(Math.floor(now / 1000) * 1000).toISOString();
    // "until 18:00" means 18:00 whenever the slot is granted; only a duration moves with the start.
    const end = input.end ?? new Date(Date.parse(start) + lengthMs).toISOString();
    if (Date.parse(end) <= Date.parse(start)) throw new ValidationError("end is already past", { path: "end" });
    const req: BookRequest = {
      holder,
      start,
      end,
      exclusive: input.exclusive,
      purpose: input.purpose,
      source: "api",
      ...(input.image ? { image: input.image } : {}),
      ...(input.mode ? { mode: input.mode } : {}),
      ...(input.lease ? { leaseTtl: input.lease.ttl } : {}),
    };
    try {
      const rs = await attempt(env, target, req, timings);
      return { reservations: rs.map(forApi), grantedAt: new Date().toISOString(), waited: Math.round((Date.now() - began) / 100) / 10 };
    } catch (e) {
      const d = conflictDetail(e);
      const remaining = deadline - Date.now();
      if (!d || remaining <= 0) {
        if (d && e instanceof LabhogError) throw new ConflictError(e.message, { ...(e.detail ?? {}), conflicts: d.conflicts, nextFree: d.nextFree });
        throw e;
      }
      // Sleep until something changes on a candidate or the earliest conflict ends, whichever is first.
      const ends = d.conflicts.map((c) => Date.parse(c.end) - Date.now()).filter((ms) => ms > 0);
      const sleep = Math.max(50, Math.min(remaining, ...ends, 60_000));
      await Promise.race(target.resources.map((r) => ledgerOf(env, r).waitForChange(r, sleep)));
    }
  }
}

/** A recurring booking on one resource: no waiting, each occurrence checked by the ledger (series-writes.ts). */
async function createSeries(env: Env, target: Target, holder: string, input: CreateInput, repeat: Repeat, lengthMs: number, timings?: LedgerTimings): Promise<Created> {
  const resource = target.resources[0]!;
  if (target.kind !== "one" || !input.start) throw new ValidationError("a recurring booking names one resource and a start", { path: "repeat" });
  const req = {
    holder,
    start: input.start,
    end: new Date(Date.parse(input.start) + lengthMs).toISOString(),
    exclusive: input.exclusive,
    purpose: input.purpose,
    source: "api" as const,
    ...(input.image ? { image: input.image } : {}),
    ...(input.mode ? { mode: input.mode } : {}),
    repeat,
    skipConflicts: input.skipConflicts ?? false,
  };
  try {
    const booked = await unwrap<SeriesBooked>(measured(timings, ledgerOf(env, resource).bookSeries(resource, req)));
    return { reservations: booked.reservations.map(forApi), grantedAt: new Date().toISOString(), waited: 0, skipped: booked.skipped };
  } catch (e) {
    const d = conflictDetail(e);
    if (d && e instanceof LabhogError) throw new ConflictError(e.message, { ...(e.detail ?? {}), conflicts: d.conflicts, nextFree: d.nextFree });
    throw e;
  }
}
