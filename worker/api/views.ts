import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { LabhogError, NotFoundError, ValidationError } from "../../calendar/errors.ts";
import type { Reservation } from "../../calendar/model.ts";
import { isPool, isResource, resourceConfigOf } from "../../calendar/lab.ts";
import { own } from "../../calendar/config/own.ts";
import type { AgentState, EnforcementReport } from "../broker/agent-state.ts";
import type { Env } from "../env.ts";
import { brokerOf, forApi, ledgerOf, unwrap } from "../ledger/client.ts";
import type { ReservationList, ResourceSnapshot } from "../ledger/protocol.ts";
import { log } from "../log.ts";
import { fanOut } from "./fan-out.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";

/** Resources and reservations as the API (and the status page) show them. */
export interface ResourceView {
  id: string;
  name: string;
  kind: string;
  pool: string | null;
  tags: Record<string, string>;
  agent: { id: string; status: AgentState["status"]; lastSeen: string | null; host: string | null } | null;
  usage: unknown;
  usageAt: string | null;
  /** Whether the booking is in place on the host, as its agent last reported. */
  enforcement: EnforcementView;
  current: Reservation[];
  next: Reservation | null;
  /** Someone using the resource without a booking (from the agent's usage), or null. Not a reservation. */
  unbookedUse: Reservation | null;
  conflicts: number;
  /** The ledger's last good calendar sync. */
  lastSync: string | null;
  /** The last good sync is older than a few sync intervals: the calendar can't be reached, this is the cached view. */
  stale: boolean;
  /** Since when syncs have been failing, or null. */
  unreachableSince: string | null;
  /** Only with `{ unreadable: "mark" }` (the status page): the calendar can't be reached and labhog has never read it, so nothing here is known. */
  unreadable?: true;
  /** The ledger had not answered yet (waking, first calendar sync): nothing here is known; ask again shortly. */
  syncing?: true;
  /** Standing notices on the resource (worker/notices). */
  notices: import("../notices/model.ts").Notice[];
}

/**
 * `ok: null` is unknown: the agent has not reported the resource, or it is
 * offline (its last word may no longer hold; `problems`/`since`/`at` are then
 * that last report). Unknown is never shown as ok.
 */
export interface EnforcementView {
  ok: boolean | null;
  problems: string[];
  since: string | null;
  at: string | null;
}

function enforcementOf(a: AgentState | undefined, id: string): EnforcementView {
  const e: EnforcementReport | undefined = a?.enforcement && Object.hasOwn(a.enforcement, id) ? a.enforcement[id] : undefined;
  if (!e) return { ok: null, problems: [], since: null, at: null };
  return { ok: a?.status === "offline" ? null : e.ok, problems: e.problems, since: e.since, at: e.at };
}

async function agents(env: Env): Promise<Record<string, AgentState>> {
  try {
    return await brokerOf(env).agents();
  } catch (e) {
    log.warn("agent states unavailable", { error: e });
    return {};
  }
}

function view(lab: LabConfig, id: string, snap: ResourceSnapshot, states: Record<string, AgentState>): ResourceView {
  const r = resourceConfigOf(lab, id)!;
  const a = r.agent ? own(states, r.agent) : undefined;
  return {
    id,
    name: r.name ?? id,
    kind: r.kind,
    pool: r.pool ?? null,
    tags: r.tags,
    agent: r.agent ? { id: r.agent, status: a?.status ?? "unknown", lastSeen: a?.lastSeen ?? null, host: own(lab.agents, r.agent)?.host ?? null } : null,
    usage: a?.usage ?? null,
    usageAt: a?.usageAt ?? null,
    enforcement: enforcementOf(a, id),
    current: snap.current.filter((r) => !isUnbookedUse(r)).map(forApi),
    next: snap.next && !isUnbookedUse(snap.next) ? forApi(snap.next) : null,
    unbookedUse: ((u) => (u ? forApi(u) : null))(snap.current.find(isUnbookedUse)),
    conflicts: snap.conflicts,
    lastSync: snap.lastSync,
    stale: snap.stale,
    unreachableSince: snap.unreachableSince,
    notices: snap.notices ?? [],
  };
}

export async function resourceView(env: Env, lab: LabConfig, id: string): Promise<ResourceView> {
  if (!isResource(lab, id)) throw new NotFoundError(`no resource ${id}`, { resource: id });
  const [snap, states] = await Promise.all([unwrap<ResourceSnapshot>(ledgerOf(env, id).snapshot(id)), agents(env)]);
  return view(lab, id, snap, states);
}

/** A resource whose ledger has nothing to answer from (503): what the status page shows instead of a guess. */
const UNREAD: ResourceSnapshot = { current: [], next: null, conflicts: 0, lastSync: null, stale: true, unreachableSince: null, seq: 0, publishPending: false };
/** The calendar can't be reached (503) or refuses labhog's credentials (502): the ledger has nothing to answer from. */
const isUnavailable = (e: unknown): boolean => e instanceof LabhogError && (e.status === 503 || e.status === 502);

/**
 * Ledger calls in flight at once for one list (fan-out.ts). A waking ledger
 * holds its slot for its first calendar sync (a few hundred ms on CalDAV), so
 * the bound is wide: 1,000 cold ledgers are four slots' worth each, not twenty.
 */
export const LIST_FAN_OUT = 250;
/** How long a list waits for ledgers that have not answered yet before answering without them (LIST_WAIT_MS). */
export const LIST_WAIT_MS = 1_000;

/** LIST_WAIT_MS from the env (0–60000 ms), else the default. */
export function listWaitOf(env: Env): number {
  const v = Number(env.LIST_WAIT_MS);
  return typeof env.LIST_WAIT_MS === "string" && Number.isInteger(v) && v >= 0 && v <= 60_000 ? v : LIST_WAIT_MS;
}

export interface ListOptions {
  /** "mark" (the status page): a ledger that can't answer (503/502) is shown `unreadable` instead of failing the list. */
  unreadable?: "throw" | "mark";
  /**
   * Answer after this long with the ledgers that have answered; the others
   * (waking, syncing their calendar for the first time) come back marked
   * `syncing`, holding nothing, and go on syncing under `waitUntil`.
   * Unset: wait for every ledger.
   */
  waitMs?: number;
  waitUntil?: (p: Promise<unknown>) => void;
}

/**
 * Resources with live state. A ledger that can't answer (never read its
 * calendar, and can't reach it) fails the call with its 503, unless
 * `unreadable: "mark"` (the status page, which shows every other resource):
 * then its view is marked `unreadable` and holds nothing. A ledger still
 * waking when `waitMs` runs out is marked `syncing` (and stale): never shown
 * free, never guessed.
 */
export async function listResources(env: Env, lab: LabConfig, filter: { pool?: string; tags?: Record<string, string> }, opts: ListOptions = {}): Promise<ResourceView[]> {
  if (filter.pool && !isPool(lab, filter.pool)) throw new NotFoundError(`no pool ${filter.pool}`, { pool: filter.pool });
  const ids = Object.entries(lab.resources)
    .filter(([, r]) => (!filter.pool || r.pool === filter.pool) && Object.entries(filter.tags ?? {}).every(([k, v]) => own(r.tags, k) === v))
    .map(([id]) => id);
  const mark = opts.unreadable === "mark";
  const snapshot = (id: string) => unwrap<ResourceSnapshot>(ledgerOf(env, id).snapshot(id));
  const fan = { limit: LIST_FAN_OUT, ...(opts.waitMs !== undefined ? { budgetMs: opts.waitMs } : {}), ...(opts.waitUntil ? { waitUntil: opts.waitUntil } : {}) };
  const [outcomes, states] = await Promise.all([fanOut(ids, snapshot, fan), agents(env)]);
  return ids.map((id, i) => {
    const o = outcomes[i];
    if (!o) return { ...view(lab, id, UNREAD, states), syncing: true as const };
    if (o.ok) return view(lab, id, o.value, states);
    if (mark && isUnavailable(o.error)) return { ...view(lab, id, UNREAD, states), unreadable: true as const };
    throw o.error;
  });
}

/** A status page row: the resource with live state and its reservations in the page's window (conflicts and unbooked use included). */
export interface RowView {
  view: ResourceView;
  reservations: Reservation[];
}

/**
 * Every resource's row for the status page, one ledger call each
 * (`Ledger.row`: the snapshot and the window's reservations together, so a
 * poll costs one Durable Object request per resource, not two). Ledgers that
 * can't answer are marked `unreadable`, ledgers still waking after `waitMs`
 * `syncing`, both with no reservations: never an empty, free-looking week.
 */
export async function listRows(env: Env, lab: LabConfig, from: string, to: string, opts: Pick<ListOptions, "waitMs" | "waitUntil"> = {}): Promise<RowView[]> {
  const ids = Object.keys(lab.resources);
  const fan = { limit: LIST_FAN_OUT, ...(opts.waitMs !== undefined ? { budgetMs: opts.waitMs } : {}), ...(opts.waitUntil ? { waitUntil: opts.waitUntil } : {}) };
  const row = (id: string) => unwrap<{ snapshot: ResourceSnapshot; week: ReservationList }>(ledgerOf(env, id).row(id, from, to));
  const [outcomes, states] = await Promise.all([fanOut(ids, row, fan), agents(env)]);
  return ids.map((id, i) => {
    const o = outcomes[i];
    if (!o) return { view: { ...view(lab, id, UNREAD, states), syncing: true as const }, reservations: [] };
    if (o.ok) return { view: view(lab, id, o.value.snapshot, states), reservations: o.value.week.reservations.sort((a, b) => Date.parse(a.start) - Date.parse(b.start)).map(forApi) };
    if (isUnavailable(o.error)) return { view: { ...view(lab, id, UNREAD, states), unreadable: true as const }, reservations: [] };
    throw o.error;
  });
}

const WEEK = 7 * 86_400_000;
const MAX_WINDOW = 400 * 86_400_000;

type ReservationQuery = { resource?: string; pool?: string; holder?: string; from?: string; to?: string };

/** Reservations in a window; unbooked-use events (not reservations) only when asked for (status page, feeds). */
type ReservationListOptions = { unbookedUse?: boolean; unreadable?: "throw" | "skip" };

export async function listReservations(env: Env, lab: LabConfig, q: ReservationQuery, opts: ReservationListOptions = {}): Promise<Reservation[]> {
  return (await listReservationsFresh(env, lab, q, opts)).reservations;
}

/** listReservations with the freshness of the answer: the oldest last sync of the ledgers asked, stale when any of them is. */
export async function listReservationsFresh(env: Env, lab: LabConfig, q: ReservationQuery, opts: ReservationListOptions = {}): Promise<{ reservations: Reservation[]; lastSync: string | null; stale: boolean }> {
  const from = q.from ?? new Date().toISOString();
  const to = q.to ?? new Date(Date.parse(from) + WEEK).toISOString();
  if (Date.parse(to) <= Date.parse(from)) throw new ValidationError("`to` must be after `from`", { path: "query.to" });
  if (Date.parse(to) - Date.parse(from) > MAX_WINDOW) throw new ValidationError("the window may span at most 400 days", { path: "query.to" });
  if (q.resource && !isResource(lab, q.resource)) throw new NotFoundError(`no resource ${q.resource}`, { resource: q.resource });
  if (q.pool && !isPool(lab, q.pool)) throw new NotFoundError(`no pool ${q.pool}`, { pool: q.pool });
  const ids = Object.entries(lab.resources)
    .filter(([id, r]) => (!q.resource || id === q.resource) && (!q.pool || r.pool === q.pool))
    .map(([id]) => id);
  const skip = opts.unreadable === "skip";
  const empty: ReservationList = { reservations: [], lastSync: null, stale: true, unreachableSince: null };
  const outcomes = await fanOut(ids, (id) => unwrap<ReservationList>(ledgerOf(env, id).list(id, from, to)), { limit: LIST_FAN_OUT });
  const lists = outcomes.map((o) => {
    if (o?.ok) return o.value;
    if (skip && isUnavailable(o?.error)) return empty;
    throw o?.error;
  });
  const reservations = lists
    .flatMap((l) => l.reservations)
    .filter((r) => (!q.holder || r.holder.id === q.holder) && (opts.unbookedUse || !isUnbookedUse(r)))
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start))
    .map(forApi);
  const syncs = lists.map((l) => l.lastSync).filter((t): t is string => t !== null).sort();
  return { reservations, lastSync: syncs[0] ?? null, stale: lists.some((l) => l.stale) };
}
