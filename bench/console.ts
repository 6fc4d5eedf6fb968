/**
 * Keystroke echo through the whole console path: a WebSocket
 * client (what `labhog console` is) → the Worker in workerd (Broker DO signs
 * the byte, Ed25519) → Mosquitto → the agent (verifies, writes the pty) →
 * socat → a board stand-in that echoes every byte → agent (logs, publishes)
 * → Mosquitto → Worker → the WebSocket. The floor: a raw MQTT round trip
 * with the same two broker hops (publish, an echo client republishes, back),
 * on the same Mosquitto in the same run.
 */
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import mqtt from "mqtt";
import WebSocket from "ws";
import type { BenchRow } from "./types.ts";
import { startConsoleLab, until } from "../test/console/console-lab.ts";

const N = 300;
const WARMUP = 20;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function consoleEcho(ws: WebSocket, n: number): Promise<number[]> {
  const times: number[] = [];
  let waiting: ((b: Buffer) => void) | undefined;
  ws.on("message", (d: Buffer) => waiting?.(d));
  for (let i = 0; i < n; i++) {
    const ch = String.fromCharCode(97 + (i % 26));
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo of keystroke ${i}`)), n === 1 ? 3_000 : 10_000);
      waiting = (b) => {
        if (b.toString() === ch) {
          clearTimeout(timer);
          resolve();
        }
      };
      ws.send(Buffer.from(ch));
    });
    times.push(performance.now() - t0);
  }
  return times;
}

/** `from` publishes, an echo client on `via` republishes, `from` gets it back: the console's two broker hops without the Worker and the agent. */
async function mqttRoundTrip(from: string, via: string, n: number): Promise<number[]> {
  const a = await mqtt.connectAsync(from);
  const echo = await mqtt.connectAsync(via);
  // TCP_NODELAY on both, as the agent sets it (edge-agent/agent/mqtt-link.ts): the floor is the broker, not Nagle in the client.
  for (const c of [a, echo]) (c.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  try {
    await echo.subscribeAsync("bench/console/in", { qos: 1 });
    // As the console: input at QoS 1 (the Worker), output at QoS 0 (the agent).
    echo.on("message", (_t, p) => echo.publish("bench/console/out", p, { qos: 0 }));
    await a.subscribeAsync("bench/console/out", { qos: 1 });
    let waiting: ((p: Buffer) => void) | undefined;
    a.on("message", (_t, p) => waiting?.(p));
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const body = Buffer.from(String(i));
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        waiting = (p) => p.equals(body) && resolve();
        a.publish("bench/console/in", body, { qos: 1 });
      });
      times.push(performance.now() - t0);
    }
    return times;
  } finally {
    await Promise.all([a.endAsync(), echo.endAsync()]);
  }
}

export default async function bench(): Promise<BenchRow[]> {
  const lab = await startConsoleLab();
  try {
    // The board stand-in echoes every byte, as a shell with echo on does.
    lab.board.port.on("data", (d: Buffer) => lab.board.port.write(d));
    const r = await lab.api("POST", "/api/v1/reservations", { resource: "board1", duration: "30m", purpose: "console bench" }, "bob");
    if (r.status !== 201) throw new Error(`booking failed: ${r.status} ${JSON.stringify(r.body)}`);
    const entry = String(r.body.reservation.id).slice("board1:".length);
    await until("the agent applies the booking", () => lab.agent.runners.get("board1")?.active?.id === entry, 30_000);
    const measure = async (label: string): Promise<BenchRow[]> => {
      const ws = await lab.connect("board1", "bob");
      await consoleEcho(ws, WARMUP);
      const full = await consoleEcho(ws, N);
      ws.close();
      // As the console's hops: the Worker's client on the WebSocket listener, the agent's on TCP.
      await mqttRoundTrip(lab.mosquitto.wsUrl, lab.mosquitto.url, WARMUP);
      const raw = await mqttRoundTrip(lab.mosquitto.wsUrl, lab.mosquitto.url, N);
      const p50 = pct(full, 50);
      const raw50 = pct(raw, 50);
      return [
        { name: `keystroke echo p50, ${label}`, value: p50, unit: "ms", ratio: p50 / raw50, note: `WebSocket→Worker→MQTT→agent→pty echo→back, ${N} keystrokes one at a time; ratio vs the next line` },
        { name: `keystroke echo p95, ${label}`, value: pct(full, 95), unit: "ms" },
        { name: `raw MQTT round trip p50, ${label}`, value: raw50, unit: "ms", note: "the floor: ws client → Mosquitto → tcp echo client → back (in QoS 1, out QoS 0), the console's two broker hops" },
      ];
    };
    const rows = await measure("Mosquitto defaults");
    // Mosquitto leaves Nagle on for its TCP sends (set_tcp_nodelay false): each hop to the agent can wait for a delayed ACK.
    await appendFile(join(lab.mosquitto.dir, "mosquitto.conf"), "set_tcp_nodelay true\n");
    await lab.mosquitto.restart();
    await until("the console works again after the broker restart", async () => {
      const ws = await lab.connect("board1", "bob").catch(() => undefined);
      if (!ws) return false;
      const ok = await consoleEcho(ws, 1).then(() => true, () => false);
      ws.close();
      return ok;
    }, 60_000);
    return [...rows, ...(await measure("set_tcp_nodelay true"))];
  } finally {
    await lab.stop();
  }
}
