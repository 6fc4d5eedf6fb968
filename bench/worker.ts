/**
 * The Worker's booking path against a real Radicale and a real Mosquitto this
 * bench starts, with the Worker running under `wrangler dev` (workerd), as
 * `npm start` runs it. (`unstable_startWorker` would be neater, but its build
 * does not apply nodejs_compat to this project's bundle in wrangler 4.86.)
 *
 * - booking latency: sequential POST /api/v1/reservations (each a new,
 *   non-overlapping slot on one resource), p50/p99; the ledger Durable Object
 *   checks the slot, PUTs the event to Radicale (If-None-Match), answers, and
 *   publishes the signed schedule in the background.
 * - floor: a bare CalDAV PUT of an equivalent event to the same Radicale
 *   (p50/p99), each one right before a booking, so both meet the same
 *   machine; ratios are booking ÷ floor.
 * - CPU per booking: run time of the workerd process(es) in wrangler dev's
 *   process group (their threads' schedstat, workerdCpu) across the N bookings, divided by N
 *   (measured again if workerd restarted meanwhile).
 *   That is the Worker and its Durable Objects together (plus the runtime's
 *   own overhead), i.e. an upper bound of what Cloudflare bills as CPU time.
 *   These bookings start beyond the schedule window (24 h), so the schedule
 *   the agent holds does not change and nothing is signed or published.
 * - CPU per PUT by a minimal Worker: the same count for bench/relay-worker's
 *   own workerd over the same chunks, per PUT it forwarded. A read touches
 *   neither a calendar nor storage; this row says what a Worker that writes
 *   to a calendar at all costs here, so the booking's ratio to a read can be
 *   split into the runtime's part and labhog's.
 * - booking breakdown: each booking's Server-Timing header (the Worker runs
 *   with SERVER_TIMING=on), as means: the ledger's calendar call, its other
 *   work, the hop and output gate, the Worker around it, and what lies
 *   outside the Worker's handler (bookingBreakdown says how the I/O-anchored
 *   clock of workerd splits them).
 * - CPU per booking inside the window: the same on a second resource, each
 *   booking within the next 24 h, so every one changes the schedule and is
 *   signed and published to Mosquitto (publishing included).
 * - Bookings and the reads they are compared with alternate, in 5 chunks each,
 *   for both the process CPU rows and the profiled ones.
 * - JS CPU per booking / per read (V8 profile): another N bookings, N
 *   reads and N/3 bookings inside the window, each under V8's sampling profiler (bench/v8-profile.ts): the
 *   isolate's JS + GC time, which is what Cloudflare bills, without workerd's
 *   own network I/O (its HTTP client's connection to Radicale). Measured
 *   apart from the process CPU rows, which the profiler would inflate.
 *
 * Run alone: npx tsx bench/worker.ts   (LABHOG_BENCH_WORKER_N=200 to change N;
 * LABHOG_BENCH_WORKER_PROFILE=booking.cpuprofile to keep the bookings' V8 profiles, as booking-1.cpuprofile … one per chunk, and booking-near.cpuprofile for those inside the window)
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parse as parseYaml } from "yaml";
import type { BenchRow } from "./types.ts";
import { startRelayWorker } from "./relay-worker/start.ts";
import { startWranglerDev } from "./wrangler-dev.ts";
import { serverTimings } from "../worker/api/server-timing.ts";
import { combine, connectProfiler, summarize, type ProfileSummary } from "./v8-profile.ts";
import { generateSigningKey } from "../calendar/schedule/schedule.ts";
import { startRadicale } from "../test/services/radicale.ts";
import { startMosquitto } from "../test/services/mosquitto.ts";

const N = Number(process.env.LABHOG_BENCH_WORKER_N ?? 150);
const LOG_LEVEL = process.env.LABHOG_BENCH_LOG ?? "error";
const WARMUP = 10;
const ROUNDS = 5;
const say = (m: string) => process.stderr.write(`[worker] ${m}\n`);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const CLK_TCK = 100; // Linux USER_HZ

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Where the bookings' time went, as means from each booking's Server-Timing
 * (the parts add up to the mean latency). workerd's clock only moves across
 * I/O, so each part is the wall time between two I/O events, and JavaScript
 * counts in the part during which it ran up to the next I/O: the ledger's
 * checks and ICS in its calendar call, its work after the calendar's answer
 * in the hop back, the Worker's JSON after the ledger's answer outside the
 * handler. Whole milliseconds each: only their means say anything.
 */
function bookingBreakdown(parts: Array<Record<string, number>>, floor: number[], relayed: number[], outsideRelay: number[]): BenchRow[] {
  const need = ["total", "ledger", "ledger-op", "calendar"];
  const complete = parts.filter((p) => need.every((k) => Number.isFinite(p[k])));
  if (complete.length < parts.length) throw new Error(`${parts.length - complete.length} of ${parts.length} bookings came without a full Server-Timing header`);
  const m = (f: (p: Record<string, number>) => number) => mean(complete.map(f));
  const row = (name: string, value: number, note: string): BenchRow => ({ name: `booking breakdown (mean): ${name}`, value, unit: "ms", note });
  return [
    row("whole booking", m((p) => p.client!), `n=${complete.length}; the parts below add up to it; the same PUT from Node: mean ${mean(floor).toFixed(2)} ms, by a minimal Worker (its whole request): mean ${mean(relayed).toFixed(2)} ms`),
    row("the ledger's calendar call", m((p) => p.calendar!), `Server-Timing "calendar": the PUT, the wait for the storage write it may not leave before (output gate), and the ledger's checks and ICS since its last I/O`),
    row("the ledger's operation besides", m((p) => p["ledger-op"]! - p.calendar!), "its queue wait and the I/O before the calendar call"),
    row("ledger hop and output gate", m((p) => p.ledger! - p["ledger-op"]!), "RPC into the Durable Object and back, the ledger's work after the calendar's answer (the event's parse, cache, grant) and the wait until those writes are durable"),
    row("Worker outside the ledger", m((p) => p.total! - p.ledger!), "from the request's start to the ledger call, as far as I/O (the body read) moves the clock"),
    row("outside the Worker's handler", m((p) => p.client! - p.total!), "HTTP in and out of workerd, wrangler dev's middleware, the answer's JSON after the ledger's answer, the client's read"),
    row("outside the minimal Worker's handler", mean(outsideRelay), `the same for bench/relay-worker's PUTs (its own Server-Timing total), n=${outsideRelay.length}: what any Worker pays there`),
  ];
}

/** LABHOG_BENCH_WORKER_PROFILE=x.cpuprofile keeps each profile as x-<part>.cpuprofile (Chrome DevTools → Performance → Load profile). */
async function keepProfile(part: string, profile: unknown): Promise<void> {
  const path = process.env.LABHOG_BENCH_WORKER_PROFILE;
  if (path) await writeFile(`${path.replace(/\.cpuprofile$/, "")}-${part}.cpuprofile`, JSON.stringify(profile));
}

/**
 * CPU ms per workerd process in wrangler dev's process group (it runs
 * detached, so the group is its pid). Found afresh at every sample: wrangler
 * dev starts a new workerd whenever it rebuilds (a file under worker/ changed,
 * e.g. a colleague's edit in a shared checkout), and a process that exits
 * between listing /proc and reading its stat is just skipped.
 *
 * The time is the sum of the process's threads' run time from
 * /proc/<pid>/task/<tid>/schedstat (nanoseconds), not utime+stime from
 * /proc/<pid>/stat: those count 10 ms ticks, and a chunk of 30 reads costs
 * three or four of them, so the tick count alone moved the read row by a third.
 */
export async function workerdCpu(group: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const d of await readdir("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${d}/stat`, "utf8");
    } catch {
      continue; // gone
    }
    const close = stat.lastIndexOf(")");
    const f = stat.slice(close + 2).split(" ");
    if (Number(f[2]) !== group || !stat.slice(stat.indexOf("(") + 1, close).includes("workerd")) continue;
    out.set(Number(d), await threadsCpuMs(Number(d), Number(f[11]) + Number(f[12])));
  }
  return out;
}

/** The run time of a process's threads (ms), or its utime+stime ticks when schedstat is not there (no CONFIG_SCHED_INFO). */
async function threadsCpuMs(pid: number, ticks: number): Promise<number> {
  try {
    let ns = 0;
    for (const tid of await readdir(`/proc/${pid}/task`)) {
      const line = await readFile(`/proc/${pid}/task/${tid}/schedstat`, "utf8").catch(() => "0");
      ns += Number(line.split(" ")[0]) || 0;
    }
    return ns / 1e6;
  } catch {
    return (ticks * 1000) / CLK_TCK;
  }
}

/**
 * CPU ms the workerd processes spent while `work` ran. When the set of workerd
 * processes changed meanwhile (a restart: the old one's CPU is lost, the new
 * one runs other code), the window is measured again.
 */
export async function cpuDuring(group: number, work: () => Promise<void>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const a = await workerdCpu(group);
    if (a.size === 0) throw new Error("no workerd process found in wrangler dev's process group");
    await work();
    const b = await workerdCpu(group);
    const spent = cpuBetween(a, b);
    if (spent !== undefined) return spent;
    if (attempt >= 3) throw new Error("workerd restarted during each of 3 measurements (wrangler dev rebuilt: files under worker/ keep changing)");
    say(`workerd restarted during the measurement (pids ${[...a.keys()]} → ${[...b.keys()]}); measuring again`);
  }
}

/** CPU ms between two readings of workerdCpu; undefined when the set of processes changed between them (a restart). */
function cpuBetween(a: Map<number, number>, b: Map<number, number>): number | undefined {
  if (a.size !== b.size || ![...a.keys()].every((pid) => b.has(pid))) return undefined;
  return [...b].reduce((s, [pid, t]) => s + t - a.get(pid)!, 0);
}

/** workerd processes below `root` (bench/stats.ts; this bench uses cpuDuring, which also notices a restart). */
export async function descendants(root: number): Promise<number[]> {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const d of await readdir("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = await readFile(`/proc/${d}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      comm.set(Number(d), stat.slice(stat.indexOf("(") + 1, close));
      parent.set(Number(d), Number(stat.slice(close + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  for (const [pid] of parent) {
    let p: number | undefined = pid;
    for (let hops = 0; p && p !== 1 && hops < 20; hops++) {
      p = parent.get(p);
      if (p === root) {
        if (comm.get(pid)?.includes("workerd")) out.push(pid);
        break;
      }
    }
  }
  return out;
}

/** utime+stime of these processes in ms; one that has exited (a workerd restart) counts nothing rather than throwing. */
export async function cpuMs(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
    if (stat === undefined) continue;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  }
  return (ticks * 1000) / CLK_TCK;
}

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");

export default async function run(): Promise<BenchRow[]> {
  const radicale = await startRadicale();
  const mosquitto = await startMosquitto();
  let devStop: (() => Promise<void>) | undefined;
  let relayStop: (() => Promise<void>) | undefined;
  const persistDir = await mkdtemp(join(tmpdir(), "labhog-bench-worker-"));
  try {
    const auth = "Basic " + Buffer.from(`${radicale.username}:${radicale.password}`).toString("base64");
    const mkcol = async (name: string) => {
      const url = `${radicale.url}${radicale.username}/${name}/`;
      const r = await fetch(url, { method: "MKCALENDAR", headers: { authorization: auth } });
      if (r.status !== 201) throw new Error(`MKCALENDAR ${name}: ${r.status}`);
      return url;
    };
    // Each floor writes to a calendar of its own, as the bookings do: Radicale's PUT grows slower with the collection's size.
    const floorCal = await mkcol("floor");
    const relayCal = await mkcol("relay");
    const benchCal = await mkcol("bench1");
    const nearCal = await mkcol("bench2");
    const key = await generateSigningKey("bench");
    const lab = `site: bench
calendars:
  bench1: { backend: caldav, url: "${radicale.url}", calendar: "${benchCal}", username: ${radicale.username}, passwordSecret: RADICALE_PASSWORD }
  bench2: { backend: caldav, url: "${radicale.url}", calendar: "${nearCal}", username: ${radicale.username}, passwordSecret: RADICALE_PASSWORD }
resources:
  bench1: { kind: host, agent: h1 }
  bench2: { kind: host, agent: h1 }
users:
  alice: { email: alice@example.com, unix: alice, groups: [g] }
groups:
  g: { admin: ["*"] }
${process.env.LABHOG_BENCH_WORKER_MQTT === "0" ? "" : `mqtt: { url: "${mosquitto.wsUrl}", prefix: labhog/bench }`}
policy: { syncInterval: 15s }
`;
    say("starting the Worker (wrangler dev → workerd)");
    const vars: Record<string, string> = {
      LAB_CONFIG: JSON.stringify(parseYaml(lab)),
      AUTH: "off",
      LOG_LEVEL,
      RADICALE_PASSWORD: radicale.password,
      SCHEDULE_SIGNING_KEY: JSON.stringify(key.privateJwk),
      // Each booking says where its time went (worker/api/server-timing.ts): the breakdown rows below.
      SERVER_TIMING: "on",
    };
    const dev = await startWranglerDev(vars, persistDir, LOG_LEVEL === "error" ? "error" : "log");
    devStop = dev.stop;
    // workerd's own floor: a Worker that does nothing but forward the same PUT, in its own wrangler dev.
    const relay = await startRelayWorker(persistDir);
    relayStop = relay.stop;
    const relayBase = relay.direct ?? relay.base;
    // Requests go to workerd itself: wrangler dev's proxy is a second Worker that exists only in development
    // (its own hop is measured apart below, as "booking via wrangler dev's proxy").
    const base = dev.direct ?? dev.base;
    const group = dev.group;

    // Floor: bare CalDAV PUTs of an event like the ones labhog writes. Each one goes right before a booking
    // (below), so both meet the machine in the same state: on a shared 2-core VM, a floor measured in a phase
    // of its own moved by 30 % between runs while the bookings did not, and the ratio with it.
    const t0 = Date.parse("2031-01-01T00:00:00Z");
    /** An event like the ones labhog writes, the i-th hour from t0. */
    const eventIcs = (uid: string, i: number) => {
      const s = t0 + i * 3_600_000;
      return `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//labhog//bench//EN\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:${stamp(Date.now())}\r\nCREATED:${stamp(Date.now())}\r\nDTSTART:${stamp(s)}\r\nDTEND:${stamp(s + 1_800_000)}\r\nSUMMARY:alice: bench\r\nORGANIZER:mailto:alice@example.com\r\nX-LABHOG-HOLDER:alice\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
    };
    const floorPut = async (i: number): Promise<number> => {
      const uid = `floor-${i}`;
      const ics = eventIcs(uid, i);
      const a = performance.now();
      const r = await fetch(`${floorCal}${uid}.ics`, { method: "PUT", headers: { authorization: auth, "content-type": "text/calendar", "if-none-match": "*" }, body: ics });
      await r.arrayBuffer();
      if (r.status !== 201) throw new Error(`floor PUT ${r.status}`);
      return performance.now() - a;
    };
    // The same PUT made by a minimal Worker (bench/relay-worker): what the runtime alone adds to a CalDAV write.
    /** The last relayed PUT's time outside the minimal Worker's handler: its latency less its Server-Timing total. */
    let relayOutside = NaN;
    const relayPut = async (i: number): Promise<number> => {
      const uid = `relay-${i}`;
      const ics = eventIcs(uid, i);
      const a = performance.now();
      const r = await fetch(`${relayBase}/put?to=${encodeURIComponent(`${relayCal}${uid}.ics`)}`, { method: "POST", headers: { "x-authorization": auth }, body: ics });
      await r.arrayBuffer();
      if (r.status !== 201) throw new Error(`relay PUT ${r.status}`);
      const ms = performance.now() - a;
      relayOutside = ms - (serverTimings(r.headers.get("server-timing")).total ?? NaN);
      return ms;
    };
    let floorNext = 0;
    for (; floorNext < WARMUP; floorNext++) {
      await floorPut(floorNext);
      await relayPut(floorNext);
    }
    const floor: number[] = [];
    const relayed: number[] = [];

    // Bookings through the Worker; each one's Server-Timing, with its latency as "client", lands in `timed`.
    let timed: Record<string, number> = {};
    const book = async (i: number, resource = "bench1", start = Date.now() + 86_400_000 + i * 3_600_000, duration = "30m", via = base) => {
      const a = performance.now();
      const r = await fetch(`${via}/api/v1/reservations`, {
        signal: AbortSignal.timeout(30_000),
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ resource, start: new Date(start).toISOString(), duration, purpose: `bench ${i}` }),
      });
      await r.arrayBuffer();
      if (r.status !== 201) throw new Error(`booking ${i}: ${r.status}`);
      const ms = performance.now() - a;
      timed = { ...serverTimings(r.headers.get("server-timing")), client: ms };
      return ms;
    };
    let next = 0;
    for (; next < WARMUP; next++) await book(next);
    // Bookings and their baseline reads alternate in ROUNDS chunks, each chunk measured on its own and the
    // chunks summed: on this shared VM a phase of reads after a phase of bookings met another machine state
    // (the read's JS time moved between 0.32 and 0.64 ms from run to run, and the ratio with it).
    const chunk = Math.ceil(N / ROUNDS);
    const lat: number[] = [];
    const parts: Array<Record<string, number>> = [];
    const outsideRelay: number[] = [];
    let cpuBookMs = 0;
    let cpuReadMs = 0;
    // The minimal Worker's CPU over the same chunks (its own workerd: the bookings' CPU has no part in it), per PUT it made.
    let cpuRelayMs = 0;
    let relayPuts = 0;
    let wall = 0;
    const read = async () => {
      const r = await fetch(`${base}/api/v1/resources/bench1`);
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`read ${r.status}`);
    };
    for (let done = 0; done < N; done += chunk) {
      const n = Math.min(chunk, N - done);
      let bookMs: number[] = [];
      let floorMs: number[] = [];
      let relayMs: number[] = [];
      let partsOf: Array<Record<string, number>> = [];
      const relayBefore = await workerdCpu(relay.group);
      cpuBookMs += await cpuDuring(group, async () => {
        // A retry (workerd restarted) measures the chunk again, on new slots: each attempt continues where the last one stopped.
        bookMs = [];
        floorMs = [];
        relayMs = [];
        partsOf = [];
        for (let i = 0; i < n; i++) {
          // Neither floor PUT runs in this workerd (the relay has its own): its CPU, what this measures, has no part in them.
          floorMs.push(await floorPut(floorNext));
          relayMs.push(await relayPut(floorNext++));
          relayPuts++;
          outsideRelay.push(relayOutside);
          bookMs.push(await book(next++));
          partsOf.push(timed);
        }
        await new Promise((r) => setTimeout(r, 500)); // background publishes of the last bookings
      });
      const relaySpent = cpuBetween(relayBefore, await workerdCpu(relay.group));
      if (relaySpent === undefined) throw new Error("the minimal Worker's workerd restarted during a chunk");
      cpuRelayMs += relaySpent;
      lat.push(...bookMs);
      parts.push(...partsOf);
      floor.push(...floorMs);
      relayed.push(...relayMs);
      wall += bookMs.reduce((a, b) => a + b, 0);
      // Baseline: a read through the same path (Worker → ledger DO RPC → answer), no calendar write.
      cpuReadMs += await cpuDuring(group, async () => {
        for (let i = 0; i < n; i++) await read();
      });
    }
    const cpuPer = cpuBookMs / N;
    const cpuRead = cpuReadMs / N;
    const cpuRelay = cpuRelayMs / relayPuts;
    // The same bookings through wrangler dev's proxy, for comparison with earlier runs that went through it.
    const viaProxy: number[] = [];
    if (dev.direct) for (let i = 0; i < N; i++) viaProxy.push(await book(next++, "bench1", undefined, "30m", dev.base));
    // Inside the schedule window: 5-minute bookings 6 minutes apart, from an hour ahead (N/3 of them: well within 24 h).
    const nearN = Math.max(10, Math.round(N / 3));
    const near0 = Date.now() + 3_600_000;
    let nearNext = 0;
    const bookNear = () => book(nearNext, "bench2", near0 + nearNext++ * 360_000, "5m");
    for (let i = 0; i < WARMUP; i++) await bookNear();
    const cpuNear =
      (await cpuDuring(group, async () => {
        for (let i = 0; i < nearN; i++) await bookNear();
        await new Promise((r) => setTimeout(r, 500)); // the last background publishes
      })) / nearN;
    // The isolate's own CPU under V8's profiler: N more bookings (beyond the window, as the CPU row) and N
    // reads, alternating in chunks as above, then the bookings inside the window.
    const profiler = await connectProfiler(dev.inspector);
    const bookProfiles: ProfileSummary[] = [];
    const readProfiles: ProfileSummary[] = [];
    let jsNear;
    try {
      for (let done = 0, k = 0; done < N; done += chunk, k++) {
        const n = Math.min(chunk, N - done);
        const profile = await profiler.during(async () => {
          for (let i = 0; i < n; i++) await book(next++);
          await new Promise((r) => setTimeout(r, 500)); // background work of the last bookings
        });
        await keepProfile(String(k + 1), profile);
        bookProfiles.push(summarize(profile));
        readProfiles.push(summarize(await profiler.during(async () => {
          for (let i = 0; i < n; i++) await read();
        })));
      }
      const nearProfile = await profiler.during(async () => {
        for (let i = 0; i < nearN; i++) await bookNear();
        await new Promise((r) => setTimeout(r, 500)); // the last background publishes
      });
      await keepProfile("near", nearProfile);
      jsNear = summarize(nearProfile);
    } finally {
      profiler.close();
    }
    const jsBook = combine(bookProfiles);
    const jsRead = combine(readProfiles);
    say(`V8 profile (sample ≤ ${jsBook.interval} µs each): booking JS ${(jsBook.js / N).toFixed(2)} ms (GC ${(jsBook.gc / N).toFixed(2)}), (program) ${(jsBook.program / N).toFixed(2)}, (idle) ${(jsBook.idle / N).toFixed(2)}; read JS ${(jsRead.js / N).toFixed(2)} ms (GC ${(jsRead.gc / N).toFixed(2)}), (program) ${(jsRead.program / N).toFixed(2)}, (idle) ${(jsRead.idle / N).toFixed(2)} ms`);
    say(`booking: top self time (ms per booking):`);
    for (const [fn, ms] of jsBook.top.slice(0, 10)) say(`  ${(ms / N).toFixed(3).padStart(7)}  ${fn}`);
    say(`booking inside the schedule window (signed, published): JS ${(jsNear.js / nearN).toFixed(2)} ms; top self time (ms per booking):`);
    for (const [fn, ms] of jsNear.top.slice(0, 10)) say(`  ${(ms / nearN).toFixed(3).padStart(7)}  ${fn}`);
    const f50 = pct(floor, 50);
    const breakdown = bookingBreakdown(parts, floor, relayed, outsideRelay);
    const f99 = pct(floor, 99);
    const b50 = pct(lat, 50);
    const b99 = pct(lat, 99);
    say(`floor p50 ${f50.toFixed(1)} ms, booking p50 ${b50.toFixed(1)} ms, CPU ${cpuPer.toFixed(2)} ms/booking over ${N}`);
    return [
      { name: "bare CalDAV PUT p50 (floor)", value: f50, unit: "ms", note: `Radicale, ${N} sequential, each right before a booking` },
      { name: "bare CalDAV PUT p99", value: f99, unit: "ms" },
      { name: "booking via Worker p50", value: b50, unit: "ms", ratio: b50 / f50, note: `POST /api/v1/reservations → ledger DO → Radicale; ${dev.direct ? "to workerd directly" : "through wrangler dev's proxy (workerd's own address not found)"}` },
      { name: "booking via Worker p99", value: b99, unit: "ms", ratio: b99 / f99 },
      { name: "bare CalDAV PUT by a minimal Worker p50", value: pct(relayed, 50), unit: "ms", ratio: pct(relayed, 50) / f50, note: "the same PUT made by a Worker that only forwards it (bench/relay-worker), in its own wrangler dev: the runtime's own share" },
      { name: "booking via Worker p50 ÷ PUT by a minimal Worker", value: b50 / pct(relayed, 50), unit: "×", note: "labhog's own share of the booking's latency (DO hop, checks, storage, ICS), the runtime's taken out" },
      ...breakdown,
      ...(viaProxy.length ? [{ name: "booking via wrangler dev's proxy p50", value: pct(viaProxy, 50), unit: "ms", ratio: pct(viaProxy, 50) / f50, note: "the same bookings through the dev-only proxy Worker" }] : []),
      { name: "Worker CPU per booking", value: cpuPer, unit: "ms", ratio: cpuPer / cpuRead, note: `workerd threads' run time / ${N} (Worker + DOs + schedule signing/publish); wall ${(wall / N).toFixed(1)} ms` },
      { name: "Worker CPU per PUT by a minimal Worker", value: cpuRelay, unit: "ms", ratio: cpuRelay / cpuRead, note: `the minimal Worker's workerd threads' run time over the same chunks / its ${relayPuts} PUTs; ratio ÷ a read: what any Worker that writes to a calendar costs here` },
      { name: "Worker CPU per booking ÷ per PUT by a minimal Worker", value: cpuPer / cpuRelay, unit: "×", note: "labhog's own share of a booking's CPU (DO hop, checks, storage, ICS), the runtime's request and CalDAV fetch taken out" },
      { name: "Worker CPU per booking, schedule changed", value: cpuNear, unit: "ms", note: `${nearN} bookings inside the 24 h schedule window: each one signed and published to Mosquitto` },
      { name: "Worker JS CPU per booking (V8 profile)", value: jsBook.js / N, unit: "ms", ratio: jsBook.js / jsRead.js, note: `isolate's JS frames + GC (${(jsBook.gc / N).toFixed(2)} ms) over ${N}, Worker and DOs; not "(program)" (${(jsBook.program / N).toFixed(2)} ms: runtime native work under the isolate lock) nor "(idle)"; no network wait (not sampled)` },
      { name: "Worker JS CPU per booking, schedule changed (V8 profile)", value: jsNear.js / nearN, unit: "ms", note: `${nearN} bookings inside the window, same counting: signing and the publish to the Broker DO included` },
      { name: "Worker JS CPU per read (V8 profile)", value: jsRead.js / N, unit: "ms", note: `GET /api/v1/resources/bench1, same counting; "(program)" ${(jsRead.program / N).toFixed(2)} ms` },
      { name: "Worker JS CPU per booking ÷ per read (V8 profile)", value: jsBook.js / jsRead.js, unit: "×", note: "JS + GC only" },
      { name: "Worker CPU per read (baseline)", value: cpuRead, unit: "ms", note: `GET /api/v1/resources/bench1: request + DO RPC, same workerd${dev.direct ? "" : " (wrangler dev's proxy worker included)"}; the booking row's ratio is ÷ this` },
    ];
  } finally {
    await relayStop?.();
    await devStop?.();
    await rm(persistDir, { recursive: true, force: true });
    await Promise.allSettled([radicale.stop(), mosquitto.stop()]);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const rows = await run();
  for (const r of rows) console.log(`${r.name.padEnd(32)} ${r.value.toFixed(2).padStart(9)} ${r.unit}${r.ratio ? `  ${r.ratio.toFixed(2)}×` : ""}  ${r.note ?? ""}`);
}
