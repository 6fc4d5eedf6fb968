import type { ScheduleEntry } from "../../../calendar/schedule/schedule.ts";
import type { AgentEvent, DriverContext } from "../../../edge-agent/drivers/driver.ts";
import type { Deps } from "../../../edge-agent/drivers/deps.ts";
import { createLogger } from "../../../edge-agent/log.ts";

/** A real logger writing into an array (so tests can read what was logged) and a context that records events. */
export function testContext(resource = "board1", simulate = false) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: "debug", write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  const events: AgentEvent[] = [];
  const ctx: DriverContext = {
    resource,
    log,
    simulate,
    emit: (e) => events.push({ resource, driver: "test", ...e }),
  };
  const deps: Deps = { log, simulate };
  return { ctx, deps, events, lines };
}

export function entry(over: Partial<ScheduleEntry> = {}): ScheduleEntry {
  const now = Date.now();
  return {
    id: "res-1",
    holder: { id: "bob@example.org", unix: ["bob"], keys: [] },
    start: new Date(now - 60_000).toISOString(),
    end: new Date(now + 3_600_000).toISOString(),
    exclusive: true,
    ...over,
  };
}
