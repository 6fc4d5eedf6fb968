/**
 * A lab's week, as calendar events with labhog's X-LABHOG-USAGE, for the
 * statistics tests: the same events go into real Radicale (test/worker) and
 * through the mapping alone (test/stats), and both must give EXPECTED, the
 * table computed by hand below.
 *
 * The week is Monday `w` 00:00Z to the next Monday (168 h), lab zone UTC.
 * Resources r1, r2 (pool "boards") and r3 (no pool); users alice, bob, carol.
 *
 * r1
 *   E1  alice  Mon 09:00–13:00 (4 h), used 3 h (09:00–12:00)
 *   E2  bob    Tue 10:00–12:00 (2 h), used 1 h (10:00–11:00), created 20 days before
 *   E3  carol  Tue 11:00–14:00 exclusive, created 15 days before: loses to E2, books nothing
 *   E4  alice  Wed 14:00–14:15: a no-show released after 15 min (booked to 17:00)
 *   U1  bob    Thu 20:00–21:30 unbooked use (1.5 h)
 *   E5  carol  Sun 22:00 – next Mon 02:00, used 2 h spread evenly over 22:00–02:00: 2 h booked and 1 h used in the week
 *   X1  alice  the Sunday before, 20:00–23:00: outside the week
 * r2
 *   S1  alice  Mon 10:00–12:00 shared (TRANSP:TRANSPARENT), used 1.5 h (10:00–11:30)
 *   S2  bob    Mon 11:00–13:00 shared, used 0.5 h (11:00–11:30): r2 is booked 10:00–13:00 = 3 h
 *   R   alice  daily 08:00–09:00, COUNT=5 (Mon–Fri) = 5 h; the Wednesday occurrence used 0.5 h (an override)
 * r3
 *   A   carol  Fri all day (24 h), used 8 h (09:00–17:00)
 *   U2  alice  Sat 10:00–12:00 unbooked use (2 h)
 *   X2  bob    the Tuesday after, 09:00–10:00: outside the week
 *
 * By hand (hours; used = tallied use + unbooked; idle = booked − tallied use,
 * everything being past; utilisation = used / (168 h × resources), one decimal):
 *
 * by resource  booked  used            idle              unbooked  no-shows  util            reservations
 *   r1         8.25    3+1+0+1+1.5=6.5 8.25−5=3.25       1.5       1         6.5/168=3.9     4 (E1 E2 E4 E5)
 *   r2         3+5=8   1.5+0.5+0.5=2.5 8−2.5=5.5         0         0         2.5/168=1.5     7 (S1 S2 R×5)
 *   r3         24      8+2=10          24−8=16           2         0         10/168=6.0      1
 *   total      40.25   19              24.75             3.5       1         19/504=3.8      12
 * by pool
 *   (no pool)  24      10              16                2         0         10/168=6.0      1
 *   boards     16.25   9               8.75              1.5       1         9/336=2.7       11
 * by user (capacity 168 h each)
 *   alice      4.25+7=11.25  3+2+2=7   1.25+5=6.25       2         1         7/168=4.2       8 (E1 E4 S1 R×5)
 *   bob        2+2=4         1+0.5+1.5=3  1+1.5=2.5     1.5       0         3/168=1.8       2
 *   carol      2+24=26       1+8=9     1+16=17           0         0         9/168=5.4       2 (E5 A; E3 lost)
 *   total      as by resource (alice's S1 and bob's S2 overlap 1 h on r2: once in the total)
 */
import type { StatsRow } from "../../worker/stats/compute.ts";

export const FIXTURE_RESOURCES = [
  { id: "r1", pool: "boards" },
  { id: "r2", pool: "boards" },
  { id: "r3" },
] as const;

const EMAIL = { alice: "alice@example.com", bob: "bob@example.com", carol: "carol@example.com" } as const;
type Who = keyof typeof EMAIL;

const HOUR = 3_600_000;
const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");
const date = (ms: number) => new Date(ms).toISOString().slice(0, 10).replace(/-/g, "");

interface Ev {
  uid: string;
  who: Who;
  start: number;
  end: number;
  allDay?: boolean;
  shared?: boolean;
  created: number;
  usage?: unknown;
  rrule?: string;
  overrides?: Array<{ start: number; end: number; usage: unknown }>;
  summary?: string;
}

const used = (s: number, first: number, last: number) => ({ at: iso(last), sessions: [], power: {}, usb: [], used: { s, first: iso(first), last: iso(last) } });

function vevent(e: { uid: string; who: Who; start: number; end: number; allDay?: boolean; shared?: boolean; created: number; usage?: unknown; rrule?: string; rid?: number; summary?: string }): string[] {
  return [
    "BEGIN:VEVENT",
    `UID:${e.uid}`,
    ...(e.rid !== undefined ? [`RECURRENCE-ID:${stamp(e.rid)}`] : []),
    `CREATED:${stamp(e.created)}`,
    `DTSTAMP:${stamp(e.created)}`,
    e.allDay ? `DTSTART;VALUE=DATE:${date(e.start)}` : `DTSTART:${stamp(e.start)}`,
    e.allDay ? `DTEND;VALUE=DATE:${date(e.end)}` : `DTEND:${stamp(e.end)}`,
    ...(e.rrule ? [`RRULE:${e.rrule}`] : []),
    `SUMMARY:${e.summary ?? `${e.who}: fixture`}`,
    `ORGANIZER:mailto:${EMAIL[e.who]}`,
    ...(e.shared ? ["TRANSP:TRANSPARENT"] : []),
    ...(e.usage !== undefined ? [`X-LABHOG-USAGE:${JSON.stringify(e.usage).replace(/\\/g, "\\\\").replace(/,/g, "\\,").replace(/;/g, "\\;")}`] : []),
    "END:VEVENT",
  ];
}

function ics(e: Ev): string {
  const lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//labhog tests//stats fixture//EN", ...vevent(e), ...(e.overrides ?? []).flatMap((o) => vevent({ ...e, rrule: undefined, start: o.start, end: o.end, usage: o.usage, rid: o.start })), "END:VCALENDAR", ""];
  // RFC 5545 folds lines longer than 75 octets.
  return lines.flatMap((l) => (l.length <= 74 ? [l] : [l.slice(0, 74), ...(l.slice(74).match(/.{1,73}/g) ?? []).map((x) => " " + x)])).join("\r\n");
}

/** The events of the week starting at `w` (a Monday, 00:00Z), per resource: uid → iCalendar text. */
export function fixtureWeek(w: number, tag: string): Record<"r1" | "r2" | "r3", Array<{ uid: string; ics: string }>> {
  const at = (day: number, h: number, m = 0) => w + day * 24 * HOUR + h * HOUR + m * 60_000;
  const created = w - 30 * 24 * HOUR;
  const ev = (e: Omit<Ev, "created"> & { created?: number }) => ({ uid: e.uid, ics: ics({ created, ...e }) });
  return {
    r1: [
      ev({ uid: `${tag}-e1`, who: "alice", start: at(0, 9), end: at(0, 13), usage: used(3 * 3600, at(0, 9), at(0, 12)) }),
      ev({ uid: `${tag}-e2`, who: "bob", start: at(1, 10), end: at(1, 12), created: w - 20 * 24 * HOUR, usage: used(3600, at(1, 10), at(1, 11)) }),
      ev({ uid: `${tag}-e3`, who: "carol", start: at(1, 11), end: at(1, 14), created: w - 15 * 24 * HOUR }),
      ev({ uid: `${tag}-e4`, who: "alice", start: at(2, 14), end: at(2, 14, 15), usage: { noShow: { at: iso(at(2, 14, 15)), bookedEnd: iso(at(2, 17)) } } }),
      ev({ uid: `labhog-unbooked-${tag}-u1`, who: "bob", start: at(3, 20), end: at(3, 21, 30), shared: true, summary: "unbooked use by bob" }),
      ev({ uid: `${tag}-e5`, who: "carol", start: at(6, 22), end: at(7, 2), usage: used(2 * 3600, at(6, 22), at(7, 2)) }),
      ev({ uid: `${tag}-x1`, who: "alice", start: at(-1, 20), end: at(-1, 23), usage: used(3 * 3600, at(-1, 20), at(-1, 23)) }),
    ],
    r2: [
      ev({ uid: `${tag}-s1`, who: "alice", start: at(0, 10), end: at(0, 12), shared: true, usage: used(5400, at(0, 10), at(0, 11, 30)) }),
      ev({ uid: `${tag}-s2`, who: "bob", start: at(0, 11), end: at(0, 13), shared: true, usage: used(1800, at(0, 11), at(0, 11, 30)) }),
      ev({ uid: `${tag}-r`, who: "alice", start: at(0, 8), end: at(0, 9), rrule: "FREQ=DAILY;COUNT=5", overrides: [{ start: at(2, 8), end: at(2, 9), usage: used(1800, at(2, 8), at(2, 8, 30)) }] }),
    ],
    r3: [
      ev({ uid: `${tag}-a`, who: "carol", start: at(4, 0), end: at(5, 0), allDay: true, usage: used(8 * 3600, at(4, 9), at(4, 17)) }),
      ev({ uid: `labhog-unbooked-${tag}-u2`, who: "alice", start: at(5, 10), end: at(5, 12), shared: true, summary: "unbooked use by alice" }),
      ev({ uid: `${tag}-x2`, who: "bob", start: at(8, 9), end: at(8, 10) }),
    ],
  };
}

type Row = Omit<StatsRow, "group">;
const row = (resources: number, bookedHours: number, usedHours: number, idleHours: number, unbookedHours: number, noShows: number, utilisation: number, reservations: number): Row => ({ resources, bookedHours, usedHours, idleHours, unbookedHours, noShows, utilisation, reservations });

/** The table above. */
export const EXPECTED = {
  resource: {
    r1: row(1, 8.25, 6.5, 3.25, 1.5, 1, 3.9, 4),
    r2: row(1, 8, 2.5, 5.5, 0, 0, 1.5, 7),
    r3: row(1, 24, 10, 16, 2, 0, 6, 1),
  },
  pool: {
    "(no pool)": row(1, 24, 10, 16, 2, 0, 6, 1),
    boards: row(2, 16.25, 9, 8.75, 1.5, 1, 2.7, 11),
  },
  user: {
    alice: row(1, 11.25, 7, 6.25, 2, 1, 4.2, 8),
    bob: row(1, 4, 3, 2.5, 1.5, 0, 1.8, 2),
    carol: row(1, 26, 9, 17, 0, 0, 5.4, 2),
  },
  total: row(3, 40.25, 19, 24.75, 3.5, 1, 3.8, 12),
} as const;
