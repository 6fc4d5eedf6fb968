/**
 * Incremental CalDAV sync cost against a real Radicale this bench starts:
 * a calendar of 1,000 and one of 10,000 events, full sync, one change, then
 * the incremental sync — how many requests (counted by wrapping fetch) and how
 * long. The point: the request count does not grow with the calendar.
 * Floor: a bare CalDAV PUT to the same Radicale (p50 of sequential PUTs).
 *
 * Seeding: 1,000 events go up one by one through the backend (create, bounded
 * concurrency). Radicale serializes writes behind its storage lock (~25–75 ms
 * a PUT here, concurrency does not help), so 10,000 single PUTs would take
 * minutes; that calendar is uploaded as one whole-calendar PUT (Radicale
 * accepts a VCALENDAR on the collection URL), which is also timed.
 *
 * Run alone: npx tsx bench/calendar-sync.ts
 */
import { pathToFileURL } from "node:url";
import type { BenchRow } from "./types.ts";
import { CaldavBackend } from "../calendar/backends/caldav/backend.ts";
import { startRadicale, type RadicaleService } from "../test/services/radicale.ts";

const SIZES = (process.env.LABHOG_BENCH_SYNC_SIZES ?? "1000,10000").split(",").map(Number);
const PER_OBJECT_LIMIT = 2_000;
const CONCURRENCY = 2;

const say = (m: string) => process.stderr.write(`[calendar-sync] ${m}\n`);

function vevent(i: number, summary = `bench event ${i}`): string {
  const day = String(1 + (i % 28)).padStart(2, "0");
  return `BEGIN:VEVENT\r\nUID:bench-${i}@labhog.test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:203001${day}T090000Z\r\nDTEND:203001${day}T100000Z\r\nSUMMARY:${summary}\r\nEND:VEVENT\r\n`;
}
const vcal = (body: string) => `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//labhog//bench//EN\r\n${body}END:VCALENDAR\r\n`;

function counter() {
  const byMethod = new Map<string, number>();
  let total = 0;
  let timings: string[] = [];
  const f: typeof fetch = async (input, init) => {
    total++;
    const m = init?.method ?? "GET";
    byMethod.set(m, (byMethod.get(m) ?? 0) + 1);
    const t = performance.now();
    const res = await fetch(input, init);
    // Time to the response head: what the server spent before answering.
    const kind = typeof init?.body === "string" ? (/<[\w:]*sync-collection/.test(init.body) ? "sync-collection" : /calendar-multiget/.test(init.body) ? "multiget" : m) : m;
    timings.push(`${kind} ${(performance.now() - t).toFixed(0)} ms`);
    return res;
  };
  return {
    fetch: f,
    get timings() { return timings.join(", "); },
    reset() { total = 0; byMethod.clear(); timings = []; },
    get total() { return total; },
    describe: () => [...byMethod].map(([m, n]) => `${m}×${n}`).join(" "),
  };
}

async function pool<T>(n: number, limit: number, fn: (i: number) => Promise<T>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => { while (next < n) await fn(next++); }));
}

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function floorPut(r: RadicaleService, auth: string): Promise<number> {
  const cal = `${r.url}${r.username}/floor/`;
  await (await fetch(cal, { method: "MKCALENDAR", headers: { Authorization: auth } })).arrayBuffer();
  const times: number[] = [];
  for (let i = 0; i < 31; i++) {
    const t = performance.now();
    const res = await fetch(`${cal}f${i}.ics`, { method: "PUT", headers: { Authorization: auth, "Content-Type": "text/calendar", "If-None-Match": "*" }, body: vcal(vevent(100_000 + i)) });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`floor PUT: HTTP ${res.status}`);
    times.push(performance.now() - t);
  }
  return p50(times.slice(1)); // the first one pays for the connection and caches
}

interface SizeResult { size: number; uploadMs: number; uploadRequests: number; fullMs: number; fullRequests: number; incMs: number; incRequests: number; incDetail: string }

async function measure(r: RadicaleService, auth: string, size: number): Promise<SizeResult> {
  const c = counter();
  const name = `bench-${size}`;
  let uploadMs: number;
  let uploadRequests: number;
  let backend: CaldavBackend;
  if (size <= PER_OBJECT_LIMIT) {
    backend = await CaldavBackend.connect({ serverUrl: r.url, username: r.username, password: r.password, calendar: name, createCalendar: true, fetch: c.fetch });
    c.reset();
    const t = performance.now();
    await pool(size, CONCURRENCY, (i) => backend.create(`bench-${i}@labhog.test`, vcal(vevent(i))));
    uploadMs = performance.now() - t;
    uploadRequests = c.total;
  } else {
    const t = performance.now();
    const res = await fetch(`${r.url}${r.username}/${name}/`, { method: "PUT", headers: { Authorization: auth, "Content-Type": "text/calendar" }, body: vcal(Array.from({ length: size }, (_, i) => vevent(i)).join("")) });
    await res.arrayBuffer();
    if (res.status !== 201) throw new Error(`whole-calendar PUT: HTTP ${res.status}`);
    uploadMs = performance.now() - t;
    uploadRequests = 1;
    backend = await CaldavBackend.connect({ serverUrl: r.url, username: r.username, password: r.password, calendar: name, fetch: c.fetch });
  }
  say(`${size}: uploaded in ${(uploadMs / 1000).toFixed(1)} s (${uploadRequests} requests)`);

  c.reset();
  let t = performance.now();
  const full = await backend.sync(null);
  const fullMs = performance.now() - t;
  const fullRequests = c.total;
  if (full.changed.length !== size) throw new Error(`full sync of ${size} returned ${full.changed.length}`);
  say(`${size}: full sync ${(fullMs / 1000).toFixed(1)} s, ${fullRequests} requests (${c.describe()})`);

  const victim = full.changed[Math.floor(size / 2)]!;
  await backend.update(victim.id, victim.ics.replace(/SUMMARY:[^\r\n]*/, "SUMMARY:changed by the bench"), victim.etag);

  c.reset();
  t = performance.now();
  const inc = await backend.sync(full.token);
  const incMs = performance.now() - t;
  const incRequests = c.total;
  const incDetail = `${c.describe()}: ${c.timings}`;
  if (inc.full || inc.changed.length !== 1 || inc.changed[0]!.id !== victim.id || inc.deleted.length !== 0) {
    throw new Error(`incremental sync of ${size} after one change returned full=${inc.full} changed=${inc.changed.length} deleted=${inc.deleted.length}`);
  }
  say(`${size}: incremental sync ${incMs.toFixed(0)} ms, ${incRequests} requests (${incDetail})`);
  return { size, uploadMs, uploadRequests, fullMs, fullRequests, incMs, incRequests, incDetail };
}

export default async function run(): Promise<BenchRow[]> {
  const r = await startRadicale();
  const auth = "Basic " + btoa(`${r.username}:${r.password}`);
  try {
    const results: SizeResult[] = [];
    for (const size of SIZES) results.push(await measure(r, auth, size));
    const floor = await floorPut(r, auth);
    say(`floor: bare PUT p50 ${floor.toFixed(1)} ms`);
    const rows: BenchRow[] = [{ name: "caldav floor: bare PUT to Radicale (p50 of 30)", value: round(floor), unit: "ms" }];
    for (const x of results) {
      const n = x.size.toLocaleString("en-US");
      rows.push(
        { name: `caldav upload ${n} events to Radicale`, value: round(x.uploadMs / 1000), unit: "s", note: x.uploadRequests === 1 ? "one whole-calendar PUT" : `${x.uploadRequests} conditional PUTs, concurrency ${CONCURRENCY}` },
        { name: `caldav full sync, ${n} events`, value: round(x.fullMs / 1000), unit: "s", note: `${x.fullRequests} requests (sync-collection + calendar-multiget batches of 100)` },
        { name: `caldav incremental sync after 1 change, ${n} events: requests`, value: x.incRequests, unit: "requests", note: x.incDetail },
        { name: `caldav incremental sync after 1 change, ${n} events: time`, value: round(x.incMs), unit: "ms", ratio: round(x.incMs / floor) },
      );
    }
    if (results.length > 1) {
      const first = results[0]!;
      const last = results.at(-1)!;
      rows.push({ name: `caldav incremental sync requests growth ${first.size}→${last.size} events`, value: last.incRequests - first.incRequests, unit: "requests", note: "0 = the request count does not grow with the calendar" });
    }
    return rows;
  } finally {
    await r.stop();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  const rows = await run();
  for (const row of rows) console.log(JSON.stringify(row));
  say(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
