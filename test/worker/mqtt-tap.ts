import { inject } from "vitest";

/** The Node-side MQTT client (stand-ins.ts): what a real subscriber sees, and publishing as an agent. */
export type Broker = "main" | "fault";

export async function retained(topic: string, waitMs = 1000, broker: Broker = "main"): Promise<{ payload: string; retained: boolean } | undefined> {
  const r = await fetch(`${inject("mqttTapUrl")}/retained?topic=${encodeURIComponent(topic)}&wait=${waitMs}&broker=${broker}`);
  if (r.status === 204) return undefined;
  if (!r.ok) throw new Error(`tap: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Polls the retained message until `accept` passes. */
export async function retainedMatching(topic: string, accept: (payload: string) => boolean | Promise<boolean>, timeoutMs = 10_000, broker: Broker = "main"): Promise<{ payload: string; retained: boolean }> {
  const until = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < until) {
    // Another test file may be restarting the broker right now: keep polling.
    const m = await retained(topic, 500, broker).catch(() => undefined);
    if (m) {
      last = m.payload;
      try {
        if (await accept(m.payload)) return m;
      } catch {
        /* not yet */
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no matching retained message on ${topic} within ${timeoutMs} ms (last: ${last?.slice(0, 80)})`);
}

export async function publish(topic: string, payload: string, retain = true): Promise<void> {
  const r = await fetch(`${inject("mqttTapUrl")}/publish`, { method: "POST", body: JSON.stringify({ topic, payload, retain }) });
  if (r.status !== 204) throw new Error(`tap publish: ${r.status}`);
}

/** Restarts the fault-test broker (never the one other test files use). */
export async function restartBroker(): Promise<void> {
  const r = await fetch(`${inject("mqttTapUrl")}/restart-broker?broker=fault`, { method: "POST" });
  if (r.status !== 204) throw new Error(`tap restart: ${r.status}`);
}
