import { own } from "../../calendar/config/own.ts";

/**
 * What a resource is doing right now, read from an agent's usage snapshot
 * (edge-agent/drivers/usage: sessions, usb, power). Agents send
 * `{agent, at, resources: {<id>: snapshot}}`; a bare snapshot is accepted too.
 * Everything here is defensive: the payload comes from a host, not from us.
 */
export interface LiveSession {
  user: string;
  from?: string;
  /** active (< 1 min idle), idle (< 1 h), away. */
  activity: "active" | "idle" | "away" | "unknown";
}

export interface LiveUsage {
  at: string | null;
  sessions: LiveSession[];
  /** device → mode */
  power: Record<string, string>;
  usb: Array<{ name: string; present: boolean; exported: boolean; attached: boolean }>;
}

const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const str = (v: unknown, max = 80): string | undefined => (typeof v === "string" && v.length ? v.slice(0, max) : undefined);

function activityOf(idle: unknown): LiveSession["activity"] {
  if (typeof idle !== "number" || !Number.isFinite(idle)) return "unknown";
  return idle < 60 ? "active" : idle < 3600 ? "idle" : "away";
}

/** The snapshot of one resource inside an agent's payload (or the payload itself when it is a bare snapshot). */
export function snapshotOf(raw: unknown, resource: string): Record<string, unknown> | undefined {
  const o = obj(raw);
  if (!o) return undefined;
  const per = obj(o.resources);
  if (per) return obj(own(per, resource));
  return Array.isArray(o.sessions) || obj(o.power) || obj(o.usb) ? o : undefined;
}

export function liveUsageOf(raw: unknown, resource: string): LiveUsage | null {
  const s = snapshotOf(raw, resource);
  if (!s) return null;
  const top = obj(raw);
  const sessions: LiveSession[] = [];
  for (const x of Array.isArray(s.sessions) ? s.sessions.slice(0, 50) : []) {
    const o = obj(x);
    const user = str(o?.user, 64);
    if (!o || !user) continue;
    const from = str(o.from, 100);
    // Already-normalised usage (mirrored into an event) carries its activity.
    const activity = ["active", "idle", "away"].includes(o.activity as string) ? (o.activity as LiveSession["activity"]) : activityOf(o.idleSeconds);
    sessions.push({ user, ...(from ? { from } : {}), activity });
  }
  const power: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(s.power) ?? {}).slice(0, 20)) {
    const m = str(v, 40) ?? str(obj(v)?.mode, 40);
    if (m && k !== "error") power[k.slice(0, 40)] = m;
  }
  const usb: LiveUsage["usb"] = [];
  for (const d of Array.isArray(obj(s.usb)?.devices) ? (obj(s.usb)!.devices as unknown[]).slice(0, 20) : []) {
    const o = obj(d);
    const name = str(o?.name, 40) ?? str(o?.id, 40);
    if (!o || !name) continue;
    usb.push({ name, present: o.present !== false, exported: o.exported === true, attached: o.attached === true || typeof o.attachedBy === "string" });
  }
  const at = str(s.at, 40) ?? str(top?.at, 40) ?? null;
  return { at: at && !Number.isNaN(Date.parse(at)) ? new Date(at).toISOString() : null, sessions, power, usb };
}

/** Unique logged-in users, in order of appearance. */
export function usersOf(u: LiveUsage): string[] {
  return [...new Set(u.sessions.map((s) => s.user))];
}

/** The readable part ("bob logged in from 10.0.0.5 · power board=on · USB jlink attached"); stable while nothing a person cares about changes. */
export function describeUsage(u: LiveUsage): string {
  const parts: string[] = [];
  const byUser = new Map<string, LiveSession[]>();
  for (const s of u.sessions) byUser.set(s.user, [...(byUser.get(s.user) ?? []), s]);
  if (byUser.size === 0) parts.push("nobody logged in");
  for (const [user, ss] of byUser) {
    const froms = [...new Set(ss.map((s) => s.from).filter((f): f is string => !!f))];
    const active = ss.some((s) => s.activity === "active") ? "active" : ss.every((s) => s.activity === "unknown") ? "" : "idle";
    parts.push(`${user} logged in${froms.length ? ` from ${froms.join(", ")}` : ""}${active ? ` (${active})` : ""}`);
  }
  const power = Object.entries(u.power);
  if (power.length) parts.push(`power ${power.map(([d, m]) => `${d}=${m}`).join(", ")}`);
  for (const d of u.usb) parts.push(`USB ${d.name} ${d.attached ? "attached" : d.exported ? "exported" : d.present ? "present" : "absent"}`);
  return parts.join(" · ");
}

export function liveLine(u: LiveUsage): string {
  return `Live: ${describeUsage(u)}`;
}

/** Whether the usage shows the holder checked in: one of their logins has a session, or a USB device is attached. */
export function checkedIn(u: LiveUsage, holderLogins: string[]): boolean {
  return u.sessions.some((s) => holderLogins.includes(s.user)) || u.usb.some((d) => d.attached);
}

/**
 * The usage summary labhog writes into a calendar event (X-LABHOG-USAGE and
 * the "Live:" line): bounded, whatever the host reports.
 * - Google keeps at most 1024 characters per extended property and cuts the
 *   rest silently (its "Extended properties" guide): a cut JSON snapshot is
 *   unreadable.
 * - Nextcloud's webhook listener queues every calendar write as a background
 *   job whose argument holds the whole ICS; a job argument over 4,000
 *   characters can't be queued and the write that fired it fails
 *   (nextcloud/server #58912).
 * So the event carries who is on, power and USB state, at most a few of
 * each with counts of the rest; the full snapshot stays with the API
 * (GET /api/v1/resources/{id}: `usage`, from the agent's report).
 */
export const MAX_USAGE_SUMMARY_CHARS = 600;
const LIMITS = { users: 5, power: 4, usb: 4 };

export interface UsageSummary extends LiveUsage {
  /** What the summary left out. */
  more?: { sessions?: number; power?: number; usb?: number };
}

const cut = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

/** `reserve`: characters kept free for fields the caller adds (the mirror's `used`). */
export function compactUsage(u: LiveUsage, reserve = 0): UsageSummary {
  const build = (lim: typeof LIMITS, withFrom: boolean): UsageSummary => {
    const byUser = new Map<string, LiveSession>();
    for (const s of u.sessions) {
      const prev = byUser.get(s.user);
      // One entry per user: the liveliest session, and where it came from.
      if (!prev || (prev.activity !== "active" && s.activity === "active")) byUser.set(s.user, s);
    }
    const users = [...byUser.values()];
    const sessions = users.slice(0, lim.users).map((s) => ({ user: cut(s.user, 32), activity: s.activity, ...(withFrom && s.from ? { from: cut(s.from, 45) } : {}) }));
    const power = Object.fromEntries(Object.entries(u.power).slice(0, lim.power).map(([d, m]) => [cut(d, 24), cut(m, 16)]));
    const usb = u.usb.slice(0, lim.usb).map((d) => ({ ...d, name: cut(d.name, 24) }));
    const more = {
      ...(u.sessions.length > sessions.length ? { sessions: u.sessions.length - sessions.length } : {}),
      ...(Object.keys(u.power).length > Object.keys(power).length ? { power: Object.keys(u.power).length - Object.keys(power).length } : {}),
      ...(u.usb.length > usb.length ? { usb: u.usb.length - usb.length } : {}),
    };
    return { at: u.at, sessions, power, usb, ...(Object.keys(more).length ? { more } : {}) };
  };
  let lim = { ...LIMITS };
  let withFrom = true;
  for (;;) {
    const s = build(lim, withFrom);
    if (JSON.stringify(s).length <= MAX_USAGE_SUMMARY_CHARS - reserve) return s;
    if (withFrom) withFrom = false;
    else lim = { users: Math.max(0, lim.users - 1), power: Math.max(0, lim.power - 1), usb: Math.max(0, lim.usb - 1) };
  }
}

/** The longest "Live:" line written (it is also kept in X-LABHOG-LIVE: Google's 1024 characters per property). */
export const MAX_LIVE_LINE_CHARS = 500;

/** The "Live:" line of a summary, with what it left out counted; at most MAX_LIVE_LINE_CHARS. */
export function summaryLine(s: UsageSummary): string {
  const more = s.more ? Object.entries(s.more).map(([k, n]) => `+${n} ${k === "sessions" ? "more sessions" : k === "power" ? "more power outlets" : "more USB devices"}`) : [];
  const line = [liveLine(s), ...more].join(" · ");
  return line.length > MAX_LIVE_LINE_CHARS ? line.slice(0, MAX_LIVE_LINE_CHARS - 1) + "…" : line;
}
