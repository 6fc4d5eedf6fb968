import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Schedule } from "../../calendar/schedule/schedule.ts";
import { nullProtoRecord } from "../../calendar/config/own.ts";
import { writeFileAtomic } from "./atomic-file.ts";

/**
 * What the agent must remember across a crash or reboot, per resource: the
 * last accepted schedule (and its seq, so replays stay refused), which
 * reservation is being enforced, and each driver's own record of what it
 * changed on the machine (mounts, bound devices, power).
 */
export interface ResourceState {
  lastSeq?: number;
  schedule?: Schedule;
  /** The reservation currently applied, or null when released. */
  active: string | null;
  drivers: Record<string, unknown>;
}

export interface AgentState {
  v: 1;
  agent: string;
  savedAt: string;
  resources: Record<string, ResourceState>;
}

export class StateStore {
  readonly path: string;
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {
    this.path = join(dir, "state.json");
  }

  async load(agent: string): Promise<AgentState> {
    try {
      const s = JSON.parse(await readFile(this.path, "utf8")) as AgentState;
      // Keyed by resource ids from agent.yaml: a resource named `constructor` must not find Object's.
      if (s.v === 1 && typeof s.resources === "object" && s.resources !== null && !Array.isArray(s.resources)) return { ...s, resources: nullProtoRecord(s.resources) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    return { v: 1, agent, savedAt: new Date().toISOString(), resources: Object.create(null) as Record<string, ResourceState> };
  }

  /** Writes are serialized so a slow write never lands after a newer one. */
  save(state: AgentState): Promise<void> {
    const text = JSON.stringify({ ...state, savedAt: new Date().toISOString() }, null, 1);
    const next = this.queue.then(() => writeFileAtomic(this.path, text, 0o600));
    this.queue = next.catch(() => {});
    return next;
  }
}
