/** Whether a booking is in place on the agent's host, as the agent last reported it (…/agents/<id>/enforcement). */
export interface EnforcementReport {
  ok: boolean;
  problems: string[];
  since: string;
  /** When the agent reached this verdict. */
  at: string;
}

/** What the Worker knows about an agent from its retained MQTT topics. */
export interface AgentState {
  status: "online" | "offline" | "unknown";
  /** ISO time of the last message from the agent (or the time it reported). */
  lastSeen?: string;
  usage?: unknown;
  usageAt?: string;
  /** Per resource id; read with Object.hasOwn (ids come from the agent). */
  enforcement?: Record<string, EnforcementReport>;
}

export type AgentTopic = "status" | "usage" | "enforcement";

const isoTime = (v: unknown): string | undefined => (typeof v === "string" && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : undefined);

/**
 * The resources of an enforcement message that make sense; anything else is
 * dropped, so a garbled report reads as unknown, never as ok.
 */
export function parseEnforcement(value: unknown): Record<string, EnforcementReport> | undefined {
  const resources = (value as { resources?: unknown } | null)?.resources;
  if (!resources || typeof resources !== "object") return undefined;
  const out: Record<string, EnforcementReport> = {};
  for (const [id, v] of Object.entries(resources as Record<string, unknown>).slice(0, 1000)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id) || !v || typeof v !== "object") continue;
    const e = v as Record<string, unknown>;
    const since = isoTime(e.since);
    const at = isoTime(e.at) ?? since;
    const problems = Array.isArray(e.problems) ? e.problems.filter((p): p is string => typeof p === "string").slice(0, 50).map((p) => p.slice(0, 1000)) : undefined;
    if (typeof e.ok !== "boolean" || !since || !at || !problems) continue;
    // ok with problems is a contradiction: believe the problems.
    const ok = e.ok && problems.length === 0;
    out[id] = { ok, problems: ok ? [] : problems.length ? problems : ["the agent reported a failure without a reason"], since, at };
  }
  return out;
}

function reportedTime(v: unknown): string | undefined {
  if (v && typeof v === "object") {
    for (const k of ["at", "time", "ts", "timestamp"]) {
      const t = (v as Record<string, unknown>)[k];
      if (typeof t === "string" && !Number.isNaN(Date.parse(t))) return new Date(t).toISOString();
      if (typeof t === "number" && Number.isFinite(t)) return new Date(t > 1e12 ? t : t * 1000).toISOString();
    }
  }
  return undefined;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Folds one message from `…/agents/<id>/status` or `…/usage` into the
 * agent's state. Retained messages arrive again on every (re)subscribe, so
 * for them the time comes from the payload, else the previous lastSeen is kept.
 */
export function applyAgentMessage(prev: AgentState | undefined, kind: AgentTopic, payload: string, retained: boolean, now: Date): AgentState {
  const next: AgentState = { ...(prev ?? { status: "unknown" }) };
  const value = parse(payload.slice(0, 65_536));
  const at = reportedTime(value) ?? (retained ? prev?.lastSeen : undefined) ?? now.toISOString();
  if (kind === "status") {
    const s = typeof value === "string" ? value : (value as Record<string, unknown> | null)?.status ?? (value as Record<string, unknown> | null)?.state;
    next.status = s === "online" ? "online" : s === "offline" ? "offline" : "unknown";
  } else if (kind === "usage") {
    next.usage = value;
    next.usageAt = at;
  } else {
    // An empty (cleared) or unreadable report: enforcement is unknown again.
    const e = payload.length ? parseEnforcement(value) : undefined;
    if (e) next.enforcement = e;
    else delete next.enforcement;
  }
  if (!next.lastSeen || at > next.lastSeen) next.lastSeen = at;
  return next;
}
