/**
 * GET /api/v1/stats over 90 days of 20 resources, in workerd (wrangler dev)
 * against a real Radicale this bench starts and fills with 90 days of
 * history per resource: 3 bookings a day with a usage summary (X-LABHOG-USAGE
 * with `used`), unbooked use every other day, a weekly series with an
 * override, a no-show a week. The 90-day window reaches past the ledgers'
 * 35-day cache, so every request reads every calendar (ledger/history.ts:
 * REPORT with a time range, then parse) and the Worker computes the table.
 *
 * - CPU per stats request: utime+stime of the workerd processes across K
 *   requests, divided by K: the Worker and all 20 ledger Durable Objects
 *   together (on Cloudflare each of those is a separate invocation with its
 *   own CPU limit, so this is an upper bound for any one of them).
 * - floor: CPU per read (GET /api/v1/resources/r01: request + one DO RPC), in
 *   the same workerd, same run; the ratio is stats ÷ read.
 * - in-process, same data: the Worker's own part (computeStats over the 20
 *   resources' reservations) and one ledger's part (parse of one resource's
 *   90 days), CPU ms by process.cpuUsage, median of rounds.
 *
 * Run alone: npx tsx bench/stats.ts   (LABHOG_BENCH_STATS_K=10 to change K)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parse as parseYaml } from "yaml";
import type { BenchRow } from "./types.ts";
import { startWranglerDev } from "./wrangler-dev.ts";
import { cpuDuring } from "./worker.ts";
import { startRadicale } from "../test/services/radicale.ts";
import { reservationsFromIcs } from "../calendar/ical/index.ts";
import { resolveConflicts } from "../calendar/conflicts.ts";
import type { Reservation } from "../calendar/model.ts";
import { computeStats } from "../worker/stats/compute.ts";

const RESOURCES = 20;
const DAYS = 90;
const K = Number(process.env.LABHOG_BENCH_STATS_K ?? 5);
const READS = 50;
const ROUNDS = 9;
/** In-process runs before measuring: a Worker isolate serves many requests, its JIT is warm. */
const WARM = 10;
const DAY = 86_400_000;
const HOUR = 3_600_000;
const USERS = ["alice", "bob", "carol", "dave", "erin", "frank"];
const say = (m: string) => process.stderr.write(`[stats] ${m}\n`);

const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");
const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/,/g, "\\,").replace(/;/g, "\\;");
const fold = (l: string) => (l.length <= 74 ? l : [l.slice(0, 74), ...(l.slice(74).match(/.{1,73}/g) ?? []).map((x) => " " + x)].join("\r\n"));

/** A usage summary as the mirror writes it: a few sessions, power, USB, and the tally. */
function usage(user: string, s: number, first: number, last: number): string {
  return JSON.stringify({
    at: iso(last),
    sessions: [{ user, activity: "active", from: "10.0.3.17" }, { user: "ci", activity: "idle" }],
    power: { board: "on" },
    usb: [{ name: "jlink", present: true, exported: true, attached: true }],
    used: { s, first: iso(first), last: iso(last) },
  });
}

function vevent(o: { uid: string; user: string; start: number; end: number; usage?: string; rrule?: string; rid?: number; transparent?: boolean; summary?: string }): string[] {
  return [
    "BEGIN:VEVENT",
    `UID:${o.uid}`,
    ...(o.rid !== undefined ? [`RECURRENCE-ID:${stamp(o.rid)}`] : []),
    `DTSTAMP:${stamp(o.start - 7 * DAY)}`,
    `CREATED:${stamp(o.start - 7 * DAY)}`,
    `DTSTART:${stamp(o.start)}`,
    `DTEND:${stamp(o.end)}`,
    ...(o.rrule ? [`RRULE:${o.rrule}`] : []),
    `SUMMARY:${o.summary ?? `${o.user}: bench work`}`,
    `ORGANIZER:mailto:${o.user}@example.com`,
    ...(o.transparent ? ["TRANSP:TRANSPARENT"] : []),
    ...(o.usage ? [fold(`X-LABHOG-USAGE:${esc(o.usage)}`), fold(`DESCRIPTION:Live: ${o.user} logged in from 10.0.3.17 (active) · power board=on · USB jlink attached`)] : []),
    "END:VEVENT",
  ];
}

/** 90 days of one resource's history ending at `end` (a midnight). */
function history(r: number, end: number): string[] {
  const out: string[] = [];
  const from = end - DAYS * DAY;
  for (let d = 0; d < DAYS; d++) {
    const day = from + d * DAY;
    for (let b = 0; b < 3; b++) {
      const user = USERS[(r + d + b) % USERS.length]!;
      const start = day + (8 + b * 4) * HOUR;
      const noShow = b === 2 && d % 7 === 3;
      out.push(
        ...vevent(
          noShow
            ? { uid: `r${r}-d${d}-b${b}`, user, start, end: start + 15 * 60_000, usage: JSON.stringify({ noShow: { at: iso(start + 15 * 60_000), bookedEnd: iso(start + 3 * HOUR) } }) }
            : { uid: `r${r}-d${d}-b${b}`, user, start, end: start + 3 * HOUR, usage: usage(user, 2 * 3600 + b * 600, start, start + 2 * HOUR + b * 600_000) },
        ),
      );
    }
    if (d % 2 === 0) out.push(...vevent({ uid: `labhog-unbooked-r${r}-d${d}`, user: USERS[(r + d) % USERS.length]!, start: day + 20 * HOUR, end: day + 21 * HOUR + 30 * 60_000, transparent: true, summary: "unbooked use" }));
  }
  // A weekly series over the whole window, its third occurrence used (an override).
  const s0 = from + 6 * HOUR;
  out.push(...vevent({ uid: `r${r}-weekly`, user: USERS[r % USERS.length]!, start: s0, end: s0 + HOUR, rrule: `FREQ=WEEKLY;COUNT=${Math.floor(DAYS / 7)}` }));
  out.push(...vevent({ uid: `r${r}-weekly`, user: USERS[r % USERS.length]!, start: s0 + 14 * DAY, end: s0 + 14 * DAY + HOUR, rid: s0 + 14 * DAY, usage: usage(USERS[r % USERS.length]!, 1800, s0 + 14 * DAY, s0 + 14 * DAY + 1_800_000) }));
  return out;
}

const vcal = (lines: string[]) => ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//labhog//bench stats//EN", ...lines, "END:VCALENDAR", ""].join("\r\n");

/** Splits a whole calendar into one object per UID, as a CalDAV collection holds them. */
function objects(lines: string[]): Array<{ id: string; ics: string }> {
  const byUid = new Map<string, string[]>();
  for (let i = 0; i < lines.length; ) {
    const j = lines.indexOf("END:VEVENT", i) + 1;
    const ev = lines.slice(i, j);
    const uid = ev.find((l) => l.startsWith("UID:"))!.slice(4);
    byUid.set(uid, [...(byUid.get(uid) ?? []), ...ev]);
    i = j;
  }
  return [...byUid].map(([uid, ev]) => ({ id: `${uid}.ics`, ics: vcal(ev) }));
}

function measure(f: () => void): number {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export default async function run(): Promise<BenchRow[]> {
  const end = Math.floor(Date.now() / DAY) * DAY;
  const ids = Array.from({ length: RESOURCES }, (_, i) => `r${String(i + 1).padStart(2, "0")}`);
  const cals = ids.map((_, i) => history(i, end));

  // In-process: one ledger's parse, and the Worker's table, on the same data.
  const users = USERS.map((id) => ({ id, email: `${id}@example.com`, unix: [id], sshKeys: [], groups: [] }));
  const window = { start: new Date(end - DAYS * DAY), end: new Date(end) };
  const parseOne = (i: number): Reservation[] => {
    const rs = objects(cals[i]!).flatMap((o) => reservationsFromIcs(o.ics, { resource: ids[i]!, timezone: "UTC", users }, window, o.id));
    const losers = resolveConflicts(rs.filter((r) => !r.uid.startsWith("labhog-unbooked-"))).losers;
    return rs.map((r) => (losers.has(r.id) ? { ...r, state: "conflict" as const } : r));
  };
  let all: Reservation[] = ids.flatMap((_, i) => parseOne(i));
  const input = { from: end - DAYS * DAY, to: end, now: end, by: "user" as const, resources: ids.map((id, i) => ({ id, pool: `p${i % 4}` })), reservations: all };
  for (let i = 0; i < WARM; i++) {
    computeStats(input);
    parseOne(i % RESOURCES);
  }
  const parseRuns: number[] = [];
  const tableRuns: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    parseRuns.push(measure(() => void parseOne(r % RESOURCES)));
    tableRuns.push(measure(() => void computeStats(input)));
  }
  const objectsPer = objects(cals[0]!).length;
  const rows: BenchRow[] = [
    { name: "one ledger: parse 90 days of a resource", value: median(parseRuns), unit: "ms", note: `${objectsPer} objects, ${all.length / RESOURCES} reservations; in-process CPU, median of ${ROUNDS} after ${WARM} warm-up runs` },
    { name: "Worker: computeStats, 20 resources", value: median(tableRuns), unit: "ms", note: `${all.length} reservations, by user; in-process CPU, median of ${ROUNDS} after ${WARM} warm-up runs` },
  ];
  all = [];

  const radicale = await startRadicale();
  let devStop: (() => Promise<void>) | undefined;
  const persistDir = await mkdtemp(join(tmpdir(), "labhog-bench-stats-"));
  try {
    const auth = "Basic " + Buffer.from(`${radicale.username}:${radicale.password}`).toString("base64");
    say(`filling ${RESOURCES} calendars with ${DAYS} days each (one whole-calendar PUT each)`);
    const urls: string[] = [];
    for (const [i, id] of ids.entries()) {
      const url = `${radicale.url}${radicale.username}/stats-${id}/`;
      const res = await fetch(url, { method: "PUT", headers: { Authorization: auth, "Content-Type": "text/calendar" }, body: vcal(cals[i]!) });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`whole-calendar PUT ${id}: HTTP ${res.status}`);
      urls.push(url);
    }
    const lab = `site: bench
calendars:
${ids.map((id, i) => `  ${id}: { backend: caldav, url: "${radicale.url}", calendar: "${urls[i]}", username: ${radicale.username}, passwordSecret: RADICALE_PASSWORD }`).join("\n")}
pools: { p0: {}, p1: {}, p2: {}, p3: {} }
resources:
${ids.map((id, i) => `  ${id}: { kind: host, pool: p${i % 4} }`).join("\n")}
users:
${USERS.map((u) => `  ${u}: { email: ${u}@example.com, unix: ${u}, groups: [g] }`).join("\n")}
groups:
  g: { admin: ["*"] }
policy: { syncInterval: 1h, calendarDeadline: 60s }
`;
    say("starting the Worker (wrangler dev → workerd)");
    const vars: Record<string, string> = { LAB_CONFIG: JSON.stringify(parseYaml(lab)), AUTH: "off", LOG_LEVEL: "error", RADICALE_PASSWORD: radicale.password };
    const dev = await startWranglerDev(vars, persistDir);
    devStop = dev.stop;
    const base = dev.base;

    const q = `from=${encodeURIComponent(new Date(end - DAYS * DAY).toISOString())}&to=${encodeURIComponent(new Date(end).toISOString())}&by=user`;
    const stats = async () => {
      const r = await fetch(`${base}/api/v1/stats?${q}`, { signal: AbortSignal.timeout(120_000) });
      const body = (await r.json()) as { total?: { reservations: number; usedHours: number } };
      if (r.status !== 200) throw new Error(`stats: ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
      return body.total!;
    };
    // Warm-up: every ledger syncs its calendar once (its first read), one after another: twenty first
    // syncs at once against one Radicale would measure Radicale's lock, not labhog. Then the JIT settles.
    for (const id of ids) {
      const r = await fetch(`${base}/api/v1/reservations?resource=${id}`, { signal: AbortSignal.timeout(120_000) });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`first read of ${id}: ${r.status}`);
    }
    const first = await stats();
    await stats();
    // wrangler dev's own process group (detached): cpuDuring measures again if workerd restarted meanwhile.
    const group = dev.group;
    let wall = 0;
    const cpuStats =
      (await cpuDuring(group, async () => {
        const w0 = performance.now();
        for (let i = 0; i < K; i++) await stats();
        wall = (performance.now() - w0) / K;
      })) / K;
    const read = async () => {
      const r = await fetch(`${base}/api/v1/resources/r01`);
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`read ${r.status}`);
    };
    for (let i = 0; i < 5; i++) await read();
    const cpuRead =
      (await cpuDuring(group, async () => {
        for (let i = 0; i < READS; i++) await read();
      })) / READS;
    say(`stats: ${cpuStats.toFixed(0)} ms CPU, wall ${wall.toFixed(0)} ms; read ${cpuRead.toFixed(2)} ms CPU`);
    rows.push(
      { name: "CPU per read (floor)", value: cpuRead, unit: "ms", note: `GET /api/v1/resources/r01, workerd utime+stime / ${READS}` },
      { name: "CPU per stats request, 90 d × 20", value: cpuStats, unit: "ms", ratio: cpuStats / cpuRead, note: `GET /api/v1/stats by=user, ${first.reservations} reservations read from Radicale; Worker + 20 DOs together, workerd utime+stime / ${K}; wall ${wall.toFixed(0)} ms` },
    );
    return rows;
  } finally {
    await devStop?.();
    await rm(persistDir, { recursive: true, force: true });
    await radicale.stop().catch(() => undefined);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const rows = await run();
  for (const r of rows) console.log(`${r.name.padEnd(40)} ${r.value.toFixed(2).padStart(9)} ${r.unit}${r.ratio ? `  ${r.ratio.toFixed(1)}×` : ""}  ${r.note ?? ""}`);
}
