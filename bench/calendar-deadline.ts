/**
 * Figures for the calendar deadline and the full check (verify), at the backend level:
 *  - how long a caldav call takes to fail against a server that accepts and
 *    never answers, or trickles its body forever, with a total deadline
 *    (floor: the deadline itself; ratio 1.00× = exactly the deadline). Before
 *    the deadline the transport allowed 4 tries × 120 s plus backoff (~8 min);
 *  - what the daily full check (verify) costs next to a full sync, on a
 *    Radicale calendar of LABHOG_BENCH_VERIFY_SIZE events (default 2,000).
 * Real listeners and a real Radicale, started here.
 *
 * Run alone: npx tsx bench/calendar-deadline.ts
 */
import { pathToFileURL } from "node:url";
import type { BenchRow } from "./types.ts";
import { CaldavBackend } from "../calendar/backends/caldav/backend.ts";
import { CalendarTimeoutError } from "../calendar/errors.ts";
import { startRadicale } from "../test/services/radicale.ts";
import { startHangingServer } from "../test/calendar/hanging-server.ts";

const DEADLINE_MS = Number(process.env.LABHOG_BENCH_DEADLINE_MS ?? 5_000);
const VERIFY_SIZE = Number(process.env.LABHOG_BENCH_VERIFY_SIZE ?? 2_000);
const say = (m: string) => process.stderr.write(`[calendar-deadline] ${m}\n`);

const vevent = (i: number) => {
  const day = String(1 + (i % 28)).padStart(2, "0");
  return `BEGIN:VEVENT\r\nUID:bench-${i}@labhog.test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:203001${day}T090000Z\r\nDTEND:203001${day}T100000Z\r\nSUMMARY:bench event ${i}\r\nEND:VEVENT\r\n`;
};
const vcal = (body: string) => `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//labhog//bench//EN\r\n${body}END:VCALENDAR\r\n`;

function counting() {
  let n = 0;
  const f: typeof fetch = (input, init) => { n++; return fetch(input, init); };
  return { fetch: f, get n() { return n; }, reset() { n = 0; } };
}

export default async function run(): Promise<BenchRow[]> {
  const [r, silent, trickle] = await Promise.all([startRadicale(), startHangingServer("silent"), startHangingServer("trickle")]);
  const auth = "Basic " + btoa(`${r.username}:${r.password}`);
  const rows: BenchRow[] = [{ name: "caldav deadline (floor)", value: DEADLINE_MS, unit: "ms" }];
  try {
    for (const [kind, server] of [["silent", silent], ["trickle", trickle]] as const) {
      let hang = false;
      const f: typeof fetch = (input, init) => {
        if (!hang) return fetch(input, init);
        const u = new URL(String(input));
        u.host = new URL(server.url).host;
        return fetch(u.href, init);
      };
      const b = await CaldavBackend.connect({ serverUrl: r.url, username: r.username, password: r.password, calendar: `deadline-${kind}`, createCalendar: true, fetch: f, deadlineMs: DEADLINE_MS });
      const made = await b.create(`d-${kind}@labhog.test`, vcal(vevent(1).replace("bench-1@", `d-${kind}@`)));
      hang = true;
      for (const [op, call] of [
        ["sync", () => b.sync(null)],
        ["get", () => b.get(made.id)],
        ["create", () => b.create(`d2-${kind}@labhog.test`, vcal(vevent(2).replace("bench-2@", `d2-${kind}@`)))],
      ] as const) {
        const t = performance.now();
        const e = await (call as () => Promise<unknown>)().then(() => undefined, (x: unknown) => x);
        const ms = performance.now() - t;
        if (!(e instanceof CalendarTimeoutError)) throw new Error(`${op} against a ${kind} server: expected CalendarTimeoutError, got ${String(e)}`);
        say(`${kind} ${op}: CalendarTimeoutError after ${ms.toFixed(0)} ms`);
        rows.push({ name: `caldav ${op} vs a ${kind} server: time to CalendarTimeoutError`, value: Math.round(ms), unit: "ms", ratio: Math.round((ms / DEADLINE_MS) * 100) / 100 });
      }
    }

    const name = `verify-${VERIFY_SIZE}`;
    const put = await fetch(`${r.url}${r.username}/${name}/`, { method: "PUT", headers: { Authorization: auth, "Content-Type": "text/calendar" }, body: vcal(Array.from({ length: VERIFY_SIZE }, (_, i) => vevent(i)).join("")) });
    await put.arrayBuffer();
    if (put.status !== 201) throw new Error(`whole-calendar PUT: HTTP ${put.status}`);
    const c = counting();
    const b = await CaldavBackend.connect({ serverUrl: r.url, username: r.username, password: r.password, calendar: name, fetch: c.fetch, deadlineMs: 600_000 });
    const n = VERIFY_SIZE.toLocaleString("en-US");
    c.reset();
    let t = performance.now();
    const full = await b.sync(null);
    const fullMs = performance.now() - t;
    rows.push({ name: `caldav full sync, ${n} events`, value: Math.round(fullMs), unit: "ms", note: `${c.n} requests` });
    const cache = new Map(full.changed.map((o) => [o.id, o.etag]));
    c.reset();
    t = performance.now();
    const quiet = await b.verify(cache);
    const quietMs = performance.now() - t;
    if (quiet.changed.length || quiet.deleted.length) throw new Error("verify of a consistent cache found differences");
    rows.push({ name: `caldav verify, ${n} events, nothing drifted`, value: Math.round(quietMs), unit: "ms", ratio: Math.round((quietMs / fullMs) * 100) / 100, note: `${c.n} request(s), no calendar data; ratio = ÷ full sync` });
    const victim = full.changed[0]!;
    await b.update(victim.id, victim.ics.replace(/SUMMARY:[^\r\n]*/, "SUMMARY:drifted"), victim.etag);
    c.reset();
    t = performance.now();
    const drift = await b.verify(cache);
    const driftMs = performance.now() - t;
    if (drift.changed.length !== 1) throw new Error(`verify after one change found ${drift.changed.length}`);
    rows.push({ name: `caldav verify, ${n} events, 1 drifted`, value: Math.round(driftMs), unit: "ms", ratio: Math.round((driftMs / fullMs) * 100) / 100, note: `${c.n} requests (listing + one multiget)` });
    say(`verify ${n}: full sync ${fullMs.toFixed(0)} ms; verify ${quietMs.toFixed(0)} ms (quiet), ${driftMs.toFixed(0)} ms (1 drifted)`);
    return rows;
  } finally {
    await Promise.all([r.stop(), silent.stop(), trickle.stop()]);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of await run()) console.log(JSON.stringify(row));
}
