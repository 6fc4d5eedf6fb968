import { describe, expect, it } from "vitest";
import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { labConfigSchema } from "../../calendar/config/lab-config.ts";
import { mappingContext, newEventIcs, patchIcs, type CalendarObject } from "../../worker/ledger/calendar-port.ts";
import { granted, type Seen } from "../../worker/ledger/precedence.ts";
import { loadMeta, type LedgerState } from "../../worker/ledger/state.ts";
import { ReservationView } from "../../worker/ledger/view.ts";
import type { Logger } from "../../worker/log.ts";

/**
 * The view skips judging the whole window again after a clear grant (the
 * booking path's common case). Every case here compares the view that took
 * the shortcut with a view judging the same cache from scratch: verdicts and
 * stored records must be the same, and a change the shortcut can't vouch
 * for (an app event, an overlap, an edit) must reach the full judgement.
 */

const lab: LabConfig = labConfigSchema.parse({
  site: "t",
  calendars: { c: { backend: "memory" } },
  resources: { r1: { kind: "host" } },
  users: { alice: { email: "alice@example.com", unix: "alice" } },
});
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} } as unknown as Logger;
const HOUR = 3_600_000;
const base = Math.floor(Date.now() / HOUR) * HOUR + 48 * HOUR;
const at = (h: number) => new Date(base + h * HOUR).toISOString();

let n = 0;
function event(startH: number, endH: number, opts: { exclusive?: boolean; uid?: string } = {}): CalendarObject {
  const uid = opts.uid ?? `labhog-test-${++n}`;
  const ics = newEventIcs(uid, { start: at(startH), end: at(endH), exclusive: opts.exclusive ?? true, holder: "alice", purpose: "t" }, lab, mappingContext(lab, "r1"));
  return { id: `${uid}.ics`, etag: `"${n}"`, ics };
}

function ledger() {
  const state: LedgerState = { meta: loadMeta(undefined), objects: new Map(), leases: new Map(), holds: new Map(), seen: new Map() };
  const view = new ReservationView({ state, resource: "r1", lab: () => lab, log: () => quiet, persistSeen() {}, persistMeta() {} });
  const store = (o: CalendarObject) => {
    state.objects.set(o.id, o);
    view.touched(o.id);
  };
  /** As writes.commit does: store, read back, record the grant. */
  const grant = (o: CalendarObject) => {
    store(o);
    state.meta.batch += 1;
    for (const r of view.ofObject(o)) state.seen.set(r.id, granted(r, state.meta.batch));
  };
  /** A view with no caches over a copy of this ledger's state: what judging from scratch says. */
  const fresh = () => {
    const copy: LedgerState = { ...state, meta: { ...state.meta }, objects: new Map(state.objects), seen: new Map<string, Seen>(JSON.parse(JSON.stringify([...state.seen]))) };
    const v = new ReservationView({ state: copy, resource: "r1", lab: () => lab, log: () => quiet, persistSeen() {}, persistMeta() {} });
    return { losers: v.losers(), seen: copy.seen, rows: (from: number, to: number) => v.reservations(from, to) };
  };
  return { state, view, store, grant, fresh };
}

describe("reservation view: verdicts after a grant", () => {
  it("clear grants (shared beside shared, back to back) stand, and the records equal a full judgement", () => {
    const l = ledger();
    l.grant(event(0, 1));
    expect(l.view.losers()).toEqual(new Map());
    l.grant(event(1, 2));
    l.grant(event(3, 5, { exclusive: false }));
    l.grant(event(4, 6, { exclusive: false }));
    const seenBefore = JSON.stringify([...l.state.seen]);
    const losers = l.view.losers();
    expect(losers).toEqual(new Map());
    const f = l.fresh();
    expect(losers).toEqual(f.losers);
    expect(JSON.stringify([...l.state.seen])).toBe(seenBefore);
    expect([...l.state.seen]).toEqual([...f.seen]);
    expect(l.view.reservations(base - HOUR, base + 10 * HOUR).map((r) => r.state)).toEqual(["upcoming", "upcoming", "upcoming", "upcoming"]);
  });

  it("rows of objects added since the last read go where a full sort puts them (same start: by id)", () => {
    const l = ledger();
    for (const [a, b] of [[5, 6], [0, 1], [9, 10]]) l.grant(event(a!, b!));
    const window = [base - 10 * HOUR, base + 30 * HOUR] as const;
    l.view.reservations(...window);
    // Before, between, after and beside the rows already sorted, and two at one start (shared, so both stand).
    for (const [a, b, x] of [[2, 3, true], [-3, -2, true], [20, 21, true], [7, 8, false], [7, 9, false]] as const) l.grant(event(a, b, { exclusive: x }));
    l.store(event(12, 13, { uid: "thunderbird-2" }));
    const rows = l.view.reservations(...window);
    expect(rows.map((r) => r.start)).toEqual([-3, 0, 2, 5, 7, 7, 9, 12, 20].map(at));
    expect(rows).toEqual(l.fresh().rows(...window));
  });

  it("a grant record that overlaps a standing booking is judged in full: the later-seen one loses", () => {
    const l = ledger();
    const first = event(0, 2);
    l.grant(first);
    expect(l.view.losers()).toEqual(new Map());
    // Not what commit() lets through; the shortcut must not take the record's word for it.
    const second = event(1, 3);
    l.grant(second);
    const losers = l.view.losers();
    expect([...losers.keys()]).toEqual([l.view.ofObject(second)[0]!.id]);
    expect(losers).toEqual(l.fresh().losers);
  });

  it("an exclusive grant overlapping a shared booking, and a shared one overlapping an exclusive, are judged in full", () => {
    for (const [a, b] of [[false, true], [true, false]] as const) {
      const l = ledger();
      l.grant(event(0, 2, { exclusive: a }));
      l.view.losers();
      const late = event(1, 3, { exclusive: b });
      l.grant(late);
      expect([...l.view.losers().keys()]).toEqual([l.view.ofObject(late)[0]!.id]);
    }
  });

  it("an app event (no grant record) overlapping a booking loses, as a full judgement says", () => {
    const l = ledger();
    l.grant(event(0, 2));
    l.view.losers();
    const app = event(1, 3, { uid: "thunderbird-1" });
    l.store(app);
    const losers = l.view.losers();
    expect([...losers.keys()]).toEqual(["thunderbird-1"]);
    expect(losers).toEqual(l.fresh().losers);
  });

  it("an edited booking is judged in full (moving onto another one makes it the loser)", () => {
    const l = ledger();
    const a = event(0, 2);
    const b = event(3, 4);
    l.grant(a);
    l.grant(b);
    l.view.losers();
    // b moved onto a by a calendar app: same object, new etag, its record still says 3–4.
    const moved = event(1, 3, { uid: b.id.replace(/\.ics$/, "") });
    l.store({ ...moved, id: b.id, etag: '"moved"' });
    expect([...l.view.losers().keys()]).toEqual([l.view.ofObject({ ...moved, id: b.id, etag: '"moved"' })[0]!.id]);
  });

  it("a long booking that began long before the rows around it still reads in a range, and still blocks a grant that overlaps it", () => {
    // The scans start at the first row that can reach the range (start minus the longest span): a week-long
    // shared booking from hour 0, then many short shared ones, then an exclusive grant at hour 150.
    const l = ledger();
    l.grant(event(0, 168, { exclusive: false }));
    for (let h = 2; h < 160; h += 3) l.grant(event(h, h + 1, { exclusive: false }));
    expect(l.view.losers()).toEqual(new Map());
    const range = [base + 150.5 * HOUR, base + 150.75 * HOUR] as const;
    expect(l.view.reservations(...range).map((r) => [r.start, r.end])).toEqual([[at(0), at(168)]]);
    expect(l.view.reservations(...range)).toEqual(l.fresh().rows(...range));
    const late = event(150.25, 150.5, { exclusive: true });
    l.grant(late);
    const losers = l.view.losers();
    expect([...losers.keys()]).toEqual([l.view.ofObject(late)[0]!.id]);
    expect(losers).toEqual(l.fresh().losers);
  });

  it("a grant whose id another object also yields is judged in full, however far apart the two rows are", () => {
    const l = ledger();
    l.grant(event(0, 1, { uid: "dup" }));
    for (let h = 2; h < 100; h += 2) l.grant(event(h, h + 1));
    l.view.losers();
    const twin = event(150, 151, { uid: "dup" });
    l.grant({ ...twin, id: "other-dup.ics" });
    const losers = l.view.losers();
    const f = l.fresh();
    expect(losers).toEqual(f.losers);
    // A full judgement keeps the first row with that id and rewrites its record; the shortcut would have kept the twin's.
    expect([...l.state.seen]).toEqual([...f.seen]);
  });

  it("a conflict mark folded inside its name still breaks the tie after storage loss (RFC 5545 §3.1 folds anywhere)", () => {
    // Two app events overlapping, both new in one sync (no records): the mark labhog wrote decides before CREATED.
    const pair = () => [event(0, 2, { uid: `thunderbird-a${n}` }), event(1, 3, { uid: `thunderbird-b${n}` })] as const;
    const plain = ledger();
    const [a0, b0] = pair();
    plain.store(a0);
    plain.store(b0);
    const firstWins = !plain.view.losers().has(plain.view.ofObject(a0)[0]!.id);
    const l = ledger();
    const [a, b] = pair();
    const winner = firstWins ? a : b;
    for (const o of [a, b]) {
      if (o !== winner) l.store(o);
      else {
        const marked = patchIcs(o.ics, { conflictWith: ["someone"] }, lab, undefined).replace("X-LABHOG-STATE:", "X-LABHOG-ST\r\n ATE:");
        expect(marked).toContain("X-LABHOG-ST\r\n ATE:conflict");
        l.store({ ...o, ics: marked });
      }
    }
    expect([...l.view.losers().keys()]).toEqual([l.view.ofObject(l.state.objects.get(winner.id)!)[0]!.id]);
  });
});
