import WebSocket from "ws";

/**
 * The Worker isolate's own CPU, from V8's sampling profiler over the DevTools
 * protocol (wrangler dev's inspector, which relays to workerd's: workerd's
 * own inspector socket closed a second session while wrangler's was attached).
 *
 * workerd runs the Worker and its Durable Objects (ledger, Broker) in one
 * isolate (its inspector lists one target for this Worker), so one profile
 * covers the request, the DO RPC hops and the DO work.
 *
 * V8 samples only while a thread holds the isolate: while workerd waits on
 * the network no sample is taken at all, and the first sample after such a
 * gap carries the whole gap as its time delta. So each sample counts for at
 * most the sampling interval (the median delta): the sum is the time the
 * isolate was busy, not the wall time.
 */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  /** JS frames + "(garbage collector)", ms. */
  js: number;
  gc: number;
  /** "(program)": inside the isolate lock but in no JS frame (the runtime's native work for the isolate), ms. */
  program: number;
  /** "(idle)": workerd marked the isolate idle, ms. */
  idle: number;
  /** µs each sample counts for (the median delta). */
  interval: number;
  samples: number;
  /** self time by function ("name url:line", 1-based line), ms, largest first. */
  top: [string, number][];
}

export async function connectProfiler(inspector: string, intervalUs = 50) {
  const ws = new WebSocket(`${inspector.replace(/^http/, "ws")}/ws`);
  await new Promise((ok, fail) => {
    ws.once("open", ok);
    ws.once("error", fail);
  });
  let seq = 0;
  const pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  ws.on("message", (d) => {
    const m = JSON.parse(String(d)) as { id?: number; result?: unknown; error?: { message: string } };
    const p = m.id === undefined ? undefined : pending.get(m.id);
    if (!p) return; // events, and the relay's own requests' answers
    pending.delete(m.id!);
    if (m.error) p.fail(new Error(`inspector: ${m.error.message}`));
    else p.ok(m.result);
  });
  ws.on("close", () => {
    for (const p of pending.values()) p.fail(new Error("inspector connection closed"));
    pending.clear();
  });
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((ok, fail) => {
      const id = ++seq; // small ids: wrangler's relay numbers its own from 100000001
      pending.set(id, { ok, fail });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: intervalUs });
  return {
    /** Profile the isolate while `work` runs. */
    async during(work: () => Promise<void>): Promise<CpuProfile> {
      await send("Profiler.start");
      try {
        await work();
      } catch (e) {
        await send("Profiler.stop").catch(() => undefined);
        throw e;
      }
      return ((await send("Profiler.stop")) as { profile: CpuProfile }).profile;
    },
    close: () => ws.close(),
  };
}

export function summarize(p: CpuProfile): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const sorted = [...p.timeDeltas].sort((a, b) => a - b);
  const interval = sorted[Math.floor(sorted.length / 2)] ?? 0;
  let js = 0, gc = 0, program = 0, idle = 0;
  const self = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!);
    if (!n) continue;
    const us = Math.min(Math.max(p.timeDeltas[i] ?? 0, 0), interval);
    const f = n.callFrame;
    if (f.functionName === "(idle)") idle += us;
    else if (f.functionName === "(program)") program += us;
    else if (f.functionName === "(root)") continue;
    else {
      if (f.functionName === "(garbage collector)") gc += us;
      js += us;
      const key = `${f.functionName || "(anonymous)"}${f.url ? ` ${f.url.split("/").pop()}:${f.lineNumber + 1}` : " (native)"}`;
      self.set(key, (self.get(key) ?? 0) + us);
    }
  }
  return {
    js: js / 1000, gc: gc / 1000, program: program / 1000, idle: idle / 1000, interval, samples: p.samples.length,
    top: [...self].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / 1000]),
  };
}

/** Several profiles' summaries as one (chunks of one measurement): times and self times summed. */
export function combine(parts: readonly ProfileSummary[]): ProfileSummary {
  const self = new Map<string, number>();
  for (const p of parts) for (const [k, v] of p.top) self.set(k, (self.get(k) ?? 0) + v);
  const sum = (f: (p: ProfileSummary) => number) => parts.reduce((a, p) => a + f(p), 0);
  return {
    js: sum((p) => p.js), gc: sum((p) => p.gc), program: sum((p) => p.program), idle: sum((p) => p.idle),
    interval: Math.max(0, ...parts.map((p) => p.interval)), samples: sum((p) => p.samples),
    top: [...self].sort((a, b) => b[1] - a[1]),
  };
}
