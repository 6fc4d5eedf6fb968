/**
 * A lab at size, on this machine, loopback only: 1,000 resources (memory
 * calendars) in the Worker in workerd, served by 100 real agent
 * processes (`labhog agent --simulate`, the built file, as the systemd unit
 * runs it) over a real Mosquitto. Opt-in: `npm run bench scale` (it takes a
 * few minutes and both cores). Smaller with LABHOG_BENCH_SCALE_RESOURCES,
 * _AGENTS, _CLIENTS.
 *
 * - booking p50/p99 while 50 clients book concurrently across resources, against
 *   a read (GET /api/v1/resources/<id>) under the same concurrency as the floor;
 * - a burst of one booking per resource: time until every agent has accepted
 *   its resource's new schedule (the agents' `schedule-accepted` events);
 * - the Broker Durable Object's publish rate during the burst, against one
 *   MQTT.js client publishing as fast as Mosquitto takes it (one connection's
 *   ceiling, the floor);
 * - the status page: /status/live bytes (raw and gzipped) for the whole
 *   board, for a poll after one booking (`?since=<version>`: only what
 *   changed), and a poll that finds nothing new (If-None-Match → 304);
 *   GET /api/v1/resources cold (first call after start) against warm.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { request as httpRequest } from "node:http";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import mqtt from "mqtt";
import { stringify as toYaml } from "yaml";
import type { BenchRow } from "./types.ts";
import { generateSigningKey } from "../calendar/schedule/schedule.ts";
import { startMosquitto } from "../test/services/mosquitto.ts";
import { startLabhogWorker, type RunningWorker } from "../test/e2e/start-worker.ts";
import { cpuMs, descendants } from "./worker.ts";

const repo = resolve(fileURLToPath(import.meta.url), "../..");
const RESOURCES = Number(process.env.LABHOG_BENCH_SCALE_RESOURCES ?? 1000);
const AGENTS = Number(process.env.LABHOG_BENCH_SCALE_AGENTS ?? 100);
const CLIENTS = Number(process.env.LABHOG_BENCH_SCALE_CLIENTS ?? 50);
/** Bookings in the concurrent-latency phase (half the resources get one). */
const CONCURRENT = Math.max(CLIENTS, Math.floor(RESOURCES / 2));
const SITE = "scale";
const PREFIX = `labhog/${SITE}`;
const say = (m: string) => process.stderr.write(`[scale] ${m}\n`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const rid = (i: number) => `r${String(i).padStart(4, "0")}`;
const aid = (i: number) => `a${String(i).padStart(3, "0")}`;

/**
 * fetch, saying which request failed and why (undici's "fetch failed" alone
 * says neither). A GET is tried once more when the connection was reset:
 * at 1,000 resources with MQTT configured, local workerd resets the
 * kept-alive connection that carried the cold list (it leaves a thousand
 * ledgers publishing in waitUntil), so the next request on it fails; the
 * same request on a new connection is answered. A POST is never repeated.
 */
const fetch = async (url: string, init?: RequestInit): Promise<Response> => {
  const method = init?.method ?? "GET";
  for (let attempt = 0; ; attempt++) {
    try {
      return await globalThis.fetch(url, init);
    } catch (e) {
      const cause = (e as Error).cause as { code?: string; message?: string } | undefined;
      if (method === "GET" && attempt === 0 && (cause?.code === "ECONNRESET" || cause?.code === "UND_ERR_SOCKET")) continue;
      throw new Error(`${method} ${new URL(url).pathname}: ${(e as Error).message}${cause ? ` (${cause.code ?? ""} ${cause.message ?? ""})` : ""}`);
    }
  }
};

/**
 * A POST on a connection of its own (node:http, no agent), closed after the
 * answer: a kept-alive connection that workerd has just closed would fail
 * the booking before it reached the Worker, and a POST cannot be repeated
 * blindly. Each booking pays a loopback connect, as a separate client would.
 */
function postJson(url: string, body: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = httpRequest(url, { method: "POST", agent: false, headers: { "content-type": "application/json", "content-length": data.length, connection: "close" }, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("no answer in 60 s")));
    req.on("error", (e: NodeJS.ErrnoException) => reject(new Error(`POST ${new URL(url).pathname}: ${e.code ?? ""} ${e.message}`)));
    req.end(data);
  });
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T, R>(items: T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

export default async function run(): Promise<BenchRow[]> {
  const mosquitto = await startMosquitto();
  const dir = await mkdtemp(join(tmpdir(), "labhog-bench-scale-"));
  const agents: ChildProcess[] = [];
  let worker: RunningWorker | undefined;
  let watcher: mqtt.MqttClient | undefined;
  try {
    const key = await generateSigningKey("scale");
    const owner = (i: number) => aid(i % AGENTS);
    const lab = {
      site: SITE,
      timezone: "UTC",
      calendars: { default: { backend: "memory" } },
      pools: { boards: { name: "Boards" } },
      resources: Object.fromEntries(Array.from({ length: RESOURCES }, (_, i) => [rid(i), { kind: "board", pool: "boards", agent: owner(i), tags: { rack: String(i % 20) } }])),
      users: { alice: { email: "alice@example.com", unix: "alice", groups: ["g"] } },
      groups: { g: { admin: ["*"] } },
      mqtt: { url: mosquitto.wsUrl, prefix: PREFIX },
      policy: { syncInterval: "15s" },
    };

    // Every agent event and status, and the schedules as the broker passes them on.
    watcher = await mqtt.connectAsync(mosquitto.url);
    const accepted = new Map<string, { entries: number; at: number }>();
    const online = new Set<string>();
    const schedules: number[] = [];
    let lastAccept = 0;
    watcher.on("message", (topic, payload) => {
      const at = performance.now();
      if (topic.endsWith("/schedule")) return void schedules.push(at);
      if (topic.endsWith("/status")) {
        const a = topic.split("/").at(-2)!;
        if (payload.toString() === "online") online.add(a);
        else online.delete(a);
        return;
      }
      let ev: { action?: string; resource?: string; message?: string };
      try { ev = JSON.parse(payload.toString()); } catch { return; }
      if (ev.action === "schedule-accepted" && ev.resource) {
        accepted.set(ev.resource, { entries: Number(/(\d+) entr/.exec(ev.message ?? "")?.[1] ?? -1), at });
        lastAccept = at;
      }
    });
    await watcher.subscribeAsync([`${PREFIX}/agents/+/events`, `${PREFIX}/agents/+/status`, `${PREFIX}/resources/+/schedule`], { qos: 0 });

    // The agents: the built file with the systemd unit's NODE_OPTIONS.
    const unit = await readFile(join(repo, "edge-agent/systemd/labhog-agent.service"), "utf8");
    const nodeOptions = /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1] ?? "";
    say(`starting ${AGENTS} agents for ${RESOURCES} resources`);
    for (let a = 0; a < AGENTS; a++) {
      const adir = join(dir, aid(a));
      await mkdir(adir, { recursive: true });
      const mine = Array.from({ length: RESOURCES }, (_, i) => i).filter((i) => owner(i) === aid(a));
      const cfg = { agent: aid(a), site: SITE, broker: { url: mosquitto.url }, trustedKeys: { scale: key.publicJwk }, resources: mine.map((i) => ({ id: rid(i), hog: false, notify: false })), stateDir: join(adir, "state") };
      await writeFile(join(adir, "agent.yaml"), toYaml(cfg));
      const child = spawn(process.execPath, [join(repo, "edge-agent/dist/labhog.mjs"), "agent", "--config", join(adir, "agent.yaml"), "--simulate"], { stdio: ["ignore", "ignore", "ignore"], env: { ...process.env, NODE_OPTIONS: nodeOptions, LABHOG_LOG_LEVEL: "error" } });
      agents.push(child);
      // Ten at a time: a hundred Node start-ups at once would only queue on two cores.
      if (a % 10 === 9) for (let t = 0; online.size < a + 1 && t < 600; t++) await new Promise((r) => setTimeout(r, 100));
    }
    for (let t = 0; online.size < AGENTS && t < 600; t++) await new Promise((r) => setTimeout(r, 100));
    if (online.size < AGENTS) throw new Error(`only ${online.size} of ${AGENTS} agents came online`);
    const rssMiB = (await Promise.all(agents.map(async (c) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${c.pid}/status`, "utf8"))?.[1] ?? 0)))).reduce((a, b) => a + b, 0) / 1024 / AGENTS;

    // workerd through wrangler's API, from a copy of the sources: wrangler's bundler watches
    // them whatever the options say, and a change in the checkout would restart the Worker
    // mid-run, dropping every ledger and the requests in flight (start-worker.ts).
    say("starting the Worker (workerd, no watch)");
    worker = await startLabhogWorker({ LAB_CONFIG: JSON.stringify(lab), AUTH: "off", LOG_LEVEL: "error", SCHEDULE_SIGNING_KEY: JSON.stringify(key.privateJwk) }, undefined, 0, { snapshot: true });
    // Straight to workerd: wrangler's proxy Worker turns any lost connection on a POST into
    // a 503 "Your worker restarted mid-request", hiding what happened (see start-worker.ts).
    const base = worker.directUrl;

    // The Worker's own start (bundle load, first request) apart, so the cold listing below is the ledgers' part.
    let t = performance.now();
    await (await fetch(`${base}/api/v1/schedule-keys`)).arrayBuffer();
    const startMs = performance.now() - t;
    // Cold: the first listing wakes every resource's ledger.
    t = performance.now();
    const cold = await fetch(`${base}/api/v1/resources`);
    const coldBody = (await cold.json()) as { resources?: Array<{ syncing?: boolean }> };
    const coldMs = performance.now() - t;
    // Ledgers still waking when the list stopped waiting (LIST_WAIT_MS) come back marked syncing.
    const coldSyncing = coldBody.resources?.filter((r) => r.syncing).length ?? 0;
    if (!cold.ok || coldBody.resources?.length !== RESOURCES) throw new Error(`GET /api/v1/resources: ${cold.status}, ${coldBody.resources?.length} resources`);
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      await (await fetch(`${base}/api/v1/resources`)).arrayBuffer();
      warm.push(performance.now() - t);
    }

    const slotStart = Date.now() + 3600_000;
    const bookOne = async (i: number) => {
      const r = i % RESOURCES;
      const slot = Math.floor(i / RESOURCES);
      const a = performance.now();
      const { status, text } = await postJson(`${base}/api/v1/reservations`, { resource: rid(r), start: new Date(slotStart + slot * 1800_000).toISOString(), duration: "20m", purpose: `scale ${i}` }).catch((e: Error) => {
        throw new Error(`booking ${i} on ${rid(r)}: ${e.message}`);
      });
      if (status !== 201) throw new Error(`booking ${i} on ${rid(r)}: ${status} ${text.slice(0, 300)}`);
      return performance.now() - a;
    };
    const readOne = async (i: number) => {
      const a = performance.now();
      const res = await fetch(`${base}/api/v1/resources/${rid(i % RESOURCES)}`);
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`read ${rid(i)}: ${res.status}`);
      return performance.now() - a;
    };

    say(`${CONCURRENT} bookings and as many reads, ${CLIENTS} clients at a time`);
    const reads = await pool(Array.from({ length: CONCURRENT }, (_, i) => i), CLIENTS, readOne);
    const books = await pool(Array.from({ length: CONCURRENT }, (_, i) => i), CLIENTS, bookOne);

    // Let the last publishes of that phase land, then the burst: one booking per resource.
    for (let t2 = 0; t2 < 300 && [...Array(CONCURRENT).keys()].some((i) => (accepted.get(rid(i))?.entries ?? 0) < 1); t2++) await new Promise((r) => setTimeout(r, 100));
    const expected = (r: number) => (r < CONCURRENT ? 2 : 1);
    say(`burst: ${RESOURCES} bookings, ${CLIENTS} clients at a time`);
    const schedulesBefore = schedules.length;
    const burstStart = performance.now();
    await pool(Array.from({ length: RESOURCES }, (_, i) => RESOURCES + i), CLIENTS, bookOne);
    const burstHttp = performance.now() - burstStart;
    const allHeld = () => Array.from({ length: RESOURCES }, (_, r) => r).every((r) => (accepted.get(rid(r))?.entries ?? 0) >= expected(r));
    for (let t2 = 0; t2 < 1200 && !allHeld(); t2++) await new Promise((r) => setTimeout(r, 100));
    if (!allHeld()) throw new Error(`after the burst, ${Array.from({ length: RESOURCES }, (_, r) => r).filter((r) => (accepted.get(rid(r))?.entries ?? 0) < expected(r)).length} resources' agents still lack the new schedule`);
    const burstHeld = lastAccept - burstStart;
    const burstSchedules = schedules.slice(schedulesBefore);
    const publishRate = burstSchedules.length / ((burstSchedules.at(-1)! - burstStart) / 1000);
    // The Broker can publish no faster than bookings arrive: what says whether it keeps up is how far
    // its last schedule trails the last booking's answer (0 when publishing keeps pace with booking).
    const bookingRate = RESOURCES / (burstHttp / 1000);
    const drainMs = Math.max(0, burstSchedules.at(-1)! - (burstStart + burstHttp));
    // workerd's memory with every ledger awake (all the Durable Objects share its one process here).
    const workerdPids = await descendants(process.pid);
    const workerdMiB = (await Promise.all(workerdPids.map(async (p) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${p}/status`, "utf8").catch(() => ""))?.[1] ?? 0)))).reduce((a, b) => a + b, 0) / 1024;

    // Floor for the publish rate: one MQTT.js connection publishing schedule-sized payloads to the same Mosquitto.
    const raw = await mqtt.connectAsync(mosquitto.url);
    const payload = Buffer.alloc(1200, "x");
    t = performance.now();
    await Promise.all(Array.from({ length: RESOURCES }, (_, i) => raw.publishAsync(`bench/raw/${i}`, payload, { qos: 1 })));
    const rawRate = RESOURCES / ((performance.now() - t) / 1000);
    await raw.endAsync();

    // The status page at this size.
    // A viewer keeps its cookies (the CSRF token is part of the board's forms).
    const page = await fetch(`${base}/status`);
    await page.arrayBuffer();
    const cookie = page.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const live = await fetch(`${base}/status/live`, { headers: { cookie } });
    const liveBody = Buffer.from(await live.arrayBuffer());
    const tag = live.headers.get("etag") ?? "";
    const again = await fetch(`${base}/status/live`, { headers: { cookie, "if-none-match": tag } });
    const againBytes = (await again.arrayBuffer()).byteLength;
    // One booking, then the viewer's poll names the version it shows: only what changed comes back.
    await bookOne(3 * RESOURCES);
    const delta = await fetch(`${base}/status/live?since=${live.headers.get("x-labhog-version") ?? ""}`, { headers: { cookie } });
    const deltaBody = Buffer.from(await delta.arrayBuffer());

    // Worker CPU (workerd's utime+stime, Worker and Durable Objects together) per warm list and per poll:
    // every poll asks every ledger; one that draws the board (the first, or after a change) pays for rendering it too.
    const workerd = await descendants(process.pid);
    const cpuPer = async (n: number, one: () => Promise<unknown>) => {
      const a = await cpuMs(workerd);
      for (let i = 0; i < n; i++) await one();
      return (await cpuMs(workerd)) - a;
    };
    const cpuList = (await cpuPer(5, async () => (await fetch(`${base}/api/v1/resources`)).arrayBuffer())) / 5;
    const cpuPoll = (await cpuPer(5, async () => (await fetch(`${base}/status/live?since=${delta.headers.get("x-labhog-version") ?? ""}`, { headers: { cookie } })).arrayBuffer())) / 5;
    const cpuFull = (await cpuPer(5, async () => (await fetch(`${base}/status/live`, { headers: { cookie } })).arrayBuffer())) / 5;

    say(`done: booking p50 ${pct(books, 50).toFixed(0)} ms, burst held after ${(burstHeld / 1000).toFixed(1)} s`);
    return [
      { name: "agents' RSS, mean", value: round(rssMiB), unit: "MiB", note: `${AGENTS} agents, ${RESOURCES / AGENTS} resources each, --simulate` },
      { name: "read under load p50 (floor)", value: round(pct(reads, 50)), unit: "ms", note: `GET /api/v1/resources/<id>, ${CLIENTS} concurrent` },
      { name: "booking under load p50", value: round(pct(books, 50)), unit: "ms", ratio: round(pct(books, 50) / pct(reads, 50), 2), note: `${CONCURRENT} bookings, ${CLIENTS} concurrent, memory calendars` },
      { name: "booking under load p99", value: round(pct(books, 99)), unit: "ms", ratio: round(pct(books, 99) / pct(reads, 99), 2), note: "÷ read p99" },
      { name: "burst → every agent holds its schedule", value: round(burstHeld / 1000, 2), unit: "s", ratio: round(burstHeld / burstHttp, 2), note: `${RESOURCES} bookings; ÷ the burst's HTTP time (${round(burstHttp / 1000, 2)} s)` },
      { name: "Broker DO publish rate", value: round(publishRate), unit: "/s", ratio: round(rawRate / publishRate, 1), note: `${burstSchedules.length} schedules; one MQTT.js connection takes ${round(rawRate)}/s (floor ÷ this); bookings arrived at ${round(bookingRate)}/s` },
      { name: "burst: last schedule after the last booking", value: round(drainMs), unit: "ms", ratio: round(drainMs / (burstHttp / RESOURCES), 1), note: `the Broker's lag behind the bookings; ÷ the burst's mean time between bookings (${round(burstHttp / RESOURCES, 1)} ms)` },
      { name: "workerd RSS after the burst", value: round(workerdMiB), unit: "MiB", note: `${RESOURCES} ledgers awake, one Broker, one process (${workerdPids.length} workerd)` },
      { name: "GET /api/v1/resources cold", value: round(coldMs), unit: "ms", ratio: round(coldMs / pct(warm, 50), 1), note: `${RESOURCES} resources, ${coldSyncing} marked syncing; ÷ warm p50 ${round(pct(warm, 50))} ms; the Worker's first request before it took ${round(startMs)} ms` },
      { name: "status page poll, full board", value: round(liveBody.length / 1024), unit: "KiB", note: `first poll; gzipped ${round(gzipSync(liveBody).length / 1024)} KiB` },
      { name: "status page poll, changed", value: round(deltaBody.length / 1024, 2), unit: "KiB", ratio: round(deltaBody.length / liveBody.length, 4), note: `one booking since the viewer's version: ${delta.headers.get("x-labhog-delta")} regions, gzipped ${round(gzipSync(deltaBody).length / 1024, 2)} KiB; ÷ the full board` },
      { name: "status page poll, unchanged", value: againBytes, unit: "B", note: `status ${again.status} (If-None-Match)` },
      { name: "Worker CPU per resource list (warm)", value: round(cpuList), unit: "ms", note: `${round(cpuList / RESOURCES, 2)} ms per resource; workerd utime+stime, one ledger call per resource` },
      { name: "Worker CPU per status page poll, unchanged", value: round(cpuPoll), unit: "ms", note: `${round(cpuPoll / RESOURCES, 2)} ms per resource; ?since=<the version shown>, nothing new` },
      { name: "Worker CPU per status page poll, full board", value: round(cpuFull), unit: "ms", note: `${round(cpuFull / RESOURCES, 2)} ms per resource; drawn and sent whole` },
    ];
  } finally {
    for (const c of agents) if (c.exitCode === null) c.kill("SIGTERM");
    await Promise.all(agents.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => { c.once("exit", r); setTimeout(r, 5000).unref(); }))));
    await worker?.dispose().catch(() => {});
    await watcher?.endAsync().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    await mosquitto.stop();
  }
}
