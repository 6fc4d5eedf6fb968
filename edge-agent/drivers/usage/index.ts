import { z } from "zod";
import { ValidationError } from "../../../calendar/errors.ts";
import type { UsageSource } from "../driver.ts";
import { execOf, type Deps } from "../deps.ts";
import { changeKey } from "./change.ts";
import { usageConfigSchema, type UsageConfig, type UsageConfigInput } from "./config.ts";
import { runExtra } from "./extra.ts";
import { ProcLoad, type UserLoad } from "./proc-load.ts";
import { readSessions, type Session } from "./utmp.ts";
import { watchPaths } from "./watch.ts";

export { usageConfigSchema, type UsageConfig, type UsageConfigInput } from "./config.ts";
export { parseUtmp, encodeUtmp, readSessions, type Session, type UtmpRecord } from "./utmp.ts";
export type { UserLoad } from "./proc-load.ts";
export { changeKey } from "./change.ts";

export interface UsageSnapshot {
  at: string;
  sessions: Session[];
  users: UserLoad[];
  /** From the usb driver (source named "usb"). */
  usb?: Record<string, unknown>;
  /** Device → mode, from the power driver (source named "power"). */
  power?: Record<string, unknown>;
  /** Other drivers' usage sources, by name. */
  sources: Record<string, Record<string, unknown>>;
  /** Extra collectors: their JSON, or `{ error }`. */
  extra: Record<string, unknown>;
  /** What could not be collected this time. */
  errors: string[];
}

export interface UsageDeps extends Deps {
  /** Drivers that report usage (the usb and power drivers are UsageSources). */
  sources?: UsageSource[];
}

export interface UsageCollector {
  /** "usage", so the collector can stand in a list of UsageSources. */
  readonly name: string;
  /** One precise snapshot (idle seconds, CPU %, RSS move all the time: compare with `changeKey`, not JSON). */
  collect(): Promise<UsageSnapshot>;
  /** Emits the first snapshot, then only changes, and an unchanged one every heartbeatMs. Returns stop. */
  start(onChange: (s: UsageSnapshot) => void): () => void;
  /** Collect now, when started (the agent calls it after enforcement changed something). */
  wake(): void;
}

export function parseUsageConfig(input: unknown): UsageConfig {
  const r = usageConfigSchema.safeParse(input);
  if (!r.success) throw new ValidationError(`invalid usage config:\n${z.prettifyError(r.error)}`, { issues: r.error.issues });
  return r.data;
}

/** The agent's usage snapshot: sessions, per-user load, drivers' state, extra collectors. */
export function createUsageCollector(input: UsageConfigInput | UsageConfig, deps: UsageDeps): UsageCollector {
  const cfg = parseUsageConfig(input);
  const exec = execOf(deps);
  const load = new ProcLoad({ procRoot: cfg.procRoot, passwd: cfg.passwd, minUid: cfg.minUid, includeRoot: cfg.includeRoot, clockTicks: cfg.clockTicks });

  async function collect(): Promise<UsageSnapshot> {
    const errors: string[] = [];
    const attempt = async <T>(what: string, fn: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
        deps.log.warn("usage collection failed", { what, error: e });
        return fallback;
      }
    };
    const [sessions, users, fromSources, extras] = await Promise.all([
      attempt("sessions", () => readSessions({ utmp: cfg.utmp, devRoot: cfg.devRoot, procRoot: cfg.procRoot }), []),
      attempt("load", () => load.sample(), []),
      Promise.all((deps.sources ?? []).map(async (s) => [s.name, await attempt(s.name, () => s.collect(), { error: "unavailable" })] as const)),
      // Simulation runs no programs, collectors included: they are the lab's own executables.
      Promise.all(cfg.collectors.map(async (c) => [c.name, deps.simulate ? ({ ok: true, value: { simulate: `would run ${JSON.stringify(c.argv)}` } } as const) : await runExtra(c, exec)] as const)),
    ]);
    const snap: UsageSnapshot = { at: new Date().toISOString(), sessions, users, sources: {}, extra: {}, errors };
    for (const [name, value] of fromSources) {
      if (name === "usb") snap.usb = value;
      else if (name === "power") snap.power = value;
      else snap.sources[name] = value;
    }
    for (const [name, r] of extras) {
      if (r.ok) snap.extra[name] = r.value;
      else {
        snap.extra[name] = { error: r.error };
        errors.push(`collector ${name}: ${r.error}`);
        deps.log.warn("extra collector failed", { collector: name, error: r.error });
      }
    }
    return snap;
  }

  let wakeNow: (() => void) | undefined;
  return {
    name: "usage",
    collect,
    wake: () => wakeNow?.(),
    start(onChange) {
      let lastKey: string | undefined;
      let lastEmit = 0;
      let busy = false;
      let again = false;
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      // Woken by a timer (load needs sampling; the heartbeat) or by the kernel (a login or logout).
      const arm = (ms: number) => {
        clearTimeout(timer);
        if (stopped) return;
        timer = setTimeout(() => void tick(), Math.max(0, Math.min(ms, lastEmit + cfg.heartbeatMs - Date.now())));
        timer.unref();
      };
      const tick = async () => {
        if (stopped) return;
        if (busy) {
          again = true; // a watch fired mid-collection: look once more after it
          return;
        }
        busy = true;
        let next = cfg.intervalMs;
        try {
          const s = await collect();
          const key = changeKey(s);
          if (stopped) return;
          if (key !== lastKey || Date.now() - lastEmit >= cfg.heartbeatMs) {
            lastKey = key;
            lastEmit = Date.now();
            onChange(s);
          }
          if (s.sessions.length === 0 && s.users.length === 0) next = cfg.idleIntervalMs;
        } catch (e) {
          deps.log.error("usage tick failed", { error: e });
        } finally {
          busy = false;
        }
        if (again) {
          again = false;
          next = 0;
        }
        arm(next);
      };
      const unwatch = watchPaths([cfg.utmp, cfg.sessionsDir], () => void tick(), deps.log);
      wakeNow = () => void tick();
      void tick();
      return () => {
        wakeNow = undefined;
        stopped = true;
        clearTimeout(timer);
        unwatch();
      };
    },
  };
}
