/** What the Worker knows about an agent from its retained MQTT topics. */
export interface AgentState {
  status: "online" | "offline" | "unknown";
  /** ISO time of the last message from the agent (or the time it reported). */
  lastSeen?: string;
  usage?: unknown;
  usageAt?: string;
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
export function applyAgentMessage(prev: AgentState | undefined, kind: "status" | "usage", payload: string, retained: boolean, now: Date): AgentState {
  const next: AgentState = { ...(prev ?? { status: "unknown" }) };
  const value = parse(payload.slice(0, 65_536));
  const at = reportedTime(value) ?? (retained ? prev?.lastSeen : undefined) ?? now.toISOString();
  if (kind === "status") {
    const s = typeof value === "string" ? value : (value as Record<string, unknown> | null)?.status ?? (value as Record<string, unknown> | null)?.state;
    next.status = s === "online" ? "online" : s === "offline" ? "offline" : "unknown";
  } else {
    next.usage = value;
    next.usageAt = at;
  }
  if (!next.lastSeen || at > next.lastSeen) next.lastSeen = at;
  return next;
}
