import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { durationSeconds } from "../../calendar/config/lab-config.ts";
import { PreconditionFailedError } from "../../calendar/errors.ts";
import { userConfigOf } from "../../calendar/lab.ts";
import { patchEventIcs, reservationToIcs } from "../../calendar/ical/index.ts";
import type { Reservation, User } from "../../calendar/model.ts";
import type { Logger } from "../log.ts";
import { checkedIn, compactUsage, summaryLine, usersOf, type LiveUsage, type UsageSummary } from "./live.ts";
import { isUnbookedUse, UNBOOKED_PREFIX } from "./unbooked.ts";
import { newTally, tallyDue, tallyReport, usedField, USED_FIELD_CHARS, type UseTally } from "../stats/use-tally.ts";

/**
 * Mirrors an agent's usage of one resource into its calendar (run inside the
 * resource's ledger, the only writer of that calendar):
 * - the running reservation's event gets X-LABHOG-USAGE and a "Live:" line
 *   at the top of its description — written only when that line changes, and
 *   at most every `minIntervalMs`;
 * - use with no reservation becomes one transparent "unbooked use by bob"
 *   event, stretched while the use lasts and closed when it stops;
 * - with policy.noShowGrace set, a reservation nobody checked in to (no
 *   session of the holder, no USB device attached) within the grace is
 *   released as a no-show, and its event says so in X-LABHOG-USAGE
 *   (`noShow`, with the end it was booked to);
 * - the time the holder was checked in is tallied (stats/use-tally.ts) and
 *   written with the summary (`used`), so statistics need only the calendar.
 */
export interface MirrorState {
  /** The line last written, and into which event. */
  line: string | null;
  lineUid: string | null;
  writtenAt: number;
  /** The open unbooked-use event, if any. */
  unbooked: { uid: string; objectId: string; users: string[]; end: number } | null;
  /** Reservation ids whose holder showed up. */
  checkedIn: string[];
  /** The latest usage whose line the throttle held back (written once the interval has passed). */
  pending?: LiveUsage | null;
  /** Use of the running reservation tallied so far, and where its final figure goes when it ends. */
  tally?: UseTally | null;
  tallyEvent?: { objectId: string; recurrenceId?: string; start: string; end: string; summary: UsageSummary } | null;
}

export const emptyMirrorState = (): MirrorState => ({ line: null, lineUid: null, writtenAt: 0, unbooked: null, checkedIn: [] });

export interface MirrorPort {
  readonly lab: LabConfig;
  readonly resource: string;
  readonly log: Logger;
  /** Reservations touching [from, to), states as of now, each with the id of its calendar object. */
  reservations(from: number, to: number): Array<Reservation & { objectId: string }>;
  object(id: string): { id: string; etag: string; ics: string } | undefined;
  update(id: string, ics: string, etag: string): Promise<void>;
  create(uid: string, ics: string): Promise<{ id: string }>;
  /** Ends a running reservation now (as the API's release does). */
  release(id: string): Promise<void>;
}

export interface MirrorOptions {
  now: number;
  /** Minimum time between two live-line writes. */
  minIntervalMs: number;
}

export interface MirrorOutcome {
  wrote: "live-line" | "throttled" | "unchanged" | "none";
  reservation?: string;
  unbooked?: "opened" | "extended" | "closed";
  noShows: string[];
}

/** An unbooked-use event reaches this far past the last report, and is stretched when less than half of that is left. */
const UNBOOKED_TAIL_MS = 15 * 60_000;
const MAX_CHECKED_IN = 200;

function loginsOf(lab: LabConfig, userId: string | null): string[] {
  const u = userId ? userConfigOf(lab, userId) : undefined;
  if (!u) return userId ? [userId] : [];
  return Array.isArray(u.unix) ? u.unix : u.unix ? [u.unix] : [userId!];
}

/** The lab user a unix login belongs to (or a stand-in user named like the login). */
function userForLogin(lab: LabConfig, login: string): User {
  for (const [id, u] of Object.entries(lab.users)) {
    const logins = Array.isArray(u.unix) ? u.unix : [u.unix];
    if (id === login || logins.includes(login)) return { id, email: u.email, unix: logins, sshKeys: u.sshKeys, groups: u.groups, ...(u.name ? { name: u.name } : {}) };
  }
  return { id: login, email: `${login}@unknown.invalid`, unix: [login], sshKeys: [], groups: [] };
}

export async function mirrorUsage(port: MirrorPort, state: MirrorState, live: LiveUsage, o: MirrorOptions): Promise<MirrorOutcome> {
  const { lab, resource, log } = port;
  const now = o.now;
  const out: MirrorOutcome = { wrote: "none", noShows: [] };
  const running = () => port.reservations(now - 1, now + 1).filter((r) => r.state === "active" && !isUnbookedUse(r));

  // Check-ins, then no-shows.
  for (const r of running()) {
    if (!state.checkedIn.includes(r.id) && checkedIn(live, loginsOf(lab, r.holder.id))) state.checkedIn = [...state.checkedIn, r.id].slice(-MAX_CHECKED_IN);
  }
  const grace = lab.policy.noShowGrace;
  if (grace !== undefined) {
    const graceMs = durationSeconds(grace) * 1000;
    for (const r of running()) {
      if (state.checkedIn.includes(r.id) || now < Date.parse(r.start) + graceMs || r.leaseTtl) continue;
      log.info("no-show: releasing", { reservation: r.id, holder: r.holder.id, grace });
      try {
        await port.release(r.id);
        out.noShows.push(r.id);
        await markNoShow(port, r, now);
      } catch (e) {
        log.warn("could not release no-show", { reservation: r.id, error: e });
      }
    }
  }

  // The live line on the running reservation.
  const current = running()[0];
  state.pending = null;
  // Use tallied: a reservation that ended (or gave way to another) gets its last figure.
  if (state.tally && state.tally.id !== current?.id) {
    await finishTally(port, state, now);
    state.tally = null;
    state.tallyEvent = null;
  }
  if (current) state.tally = tallyReport(state.tally ?? newTally(current.id, now), current, now, checkedIn(live, loginsOf(lab, current.holder.id)));
  // What goes into the event is the bounded summary (live.ts: Google's 1 KB per property, Nextcloud's 4,000-character job).
  const summary = compactUsage(live, USED_FIELD_CHARS);
  if (current) {
    const line = summaryLine(summary);
    const quiet = live.sessions.length === 0 && live.usb.length === 0 && Object.keys(live.power).length === 0;
    const due = state.tally ? tallyDue(state.tally) : false;
    const used = state.tally ? usedField(state.tally) : undefined;
    const usage: UsageSummary & { used?: unknown } = used ? { ...summary, used } : summary;
    // Nothing to say yet on a reservation that has no line: its event stays as its holder wrote it.
    if (quiet && current.uid !== state.lineUid && !due) out.wrote = "unchanged";
    else if (line === state.line && current.uid === state.lineUid && !due) out.wrote = "unchanged";
    else if (now - state.writtenAt < o.minIntervalMs && current.uid === state.lineUid) {
      out.wrote = "throttled";
      state.pending = live;
    } else {
      const obj = port.object(current.objectId);
      if (obj) {
        try {
          await port.update(obj.id, patchEventIcs(obj.ics, { usage, liveLine: line }, current.recurrenceId, { timezone: lab.timezone, now: new Date(now) }), obj.etag);
          Object.assign(state, { line, lineUid: current.uid, writtenAt: now });
          if (state.tally) state.tally = { ...state.tally, written: state.tally.s };
          state.tallyEvent = { objectId: current.objectId, ...(current.recurrenceId ? { recurrenceId: current.recurrenceId } : {}), start: current.start, end: current.end, summary };
          out.wrote = "live-line";
          out.reservation = current.id;
        } catch (e) {
          // Edited meanwhile: the next report writes onto the new version.
          if (!(e instanceof PreconditionFailedError)) throw e;
          out.wrote = "throttled";
          state.pending = live;
        }
      }
    }
  }

  // Unbooked use: somebody is logged in and nothing is booked.
  const users = usersOf(live);
  const open = state.unbooked;
  const openObj = open ? port.object(open.objectId) : undefined;
  if (open && (!openObj || current || users.length === 0)) {
    if (openObj) {
      const ev = port.reservations(now - 7 * 86_400_000, now + 86_400_000).find((r) => r.uid === open.uid);
      const end = new Date(Math.max(now, ev ? Date.parse(ev.start) + 1000 : now)).toISOString();
      await port.update(openObj.id, patchEventIcs(openObj.ics, { end }, undefined, { timezone: lab.timezone, now: new Date(now) }), openObj.etag).catch((e) => log.warn("could not close unbooked-use event", { error: e }));
      out.unbooked = "closed";
    }
    state.unbooked = null;
  }
  if (!current && users.length) {
    const title = `unbooked use by ${users.slice(0, 5).join(", ")}${users.length > 5 ? ` and ${users.length - 5} more` : ""}`;
    const still = state.unbooked ? port.object(state.unbooked.objectId) : undefined;
    if (state.unbooked && still) {
      const sameUsers = state.unbooked.users.join() === users.join();
      if (!sameUsers || state.unbooked.end - now < UNBOOKED_TAIL_MS / 2) {
        const end = now + UNBOOKED_TAIL_MS;
        await port.update(still.id, patchEventIcs(still.ics, { end: new Date(end).toISOString(), summary: title, usage: summary, liveLine: summaryLine(summary) }, undefined, { timezone: lab.timezone, now: new Date(now) }), still.etag);
        state.unbooked = { ...state.unbooked, users, end };
        out.unbooked = "extended";
      }
    } else {
      const uid = `${UNBOOKED_PREFIX}${crypto.randomUUID()}`;
      const end = now + UNBOOKED_TAIL_MS;
      const ics = reservationToIcs(
        { uid, holder: userForLogin(lab, users[0]!), start: new Date(Math.floor(now / 1000) * 1000).toISOString(), end: new Date(end).toISOString(), exclusive: false, purpose: title, usage: summary },
        { resource, timezone: lab.timezone, users: [] },
      );
      const created = await port.create(uid, patchEventIcs(ics, { summary: title, liveLine: summaryLine(summary) }, undefined, { timezone: lab.timezone, now: new Date(now) }));
      state.unbooked = { uid, objectId: created.id, users, end };
      out.unbooked = "opened";
    }
  }
  return out;
}

/** The last stretch of use of a reservation that is no longer running, written into its event when the event is behind. */
async function finishTally(port: MirrorPort, state: MirrorState, now: number): Promise<void> {
  const ev = state.tallyEvent;
  if (!state.tally || !ev) return;
  const t = tallyReport(state.tally, ev, now, false);
  const used = usedField(t);
  if (!used || t.s === t.written) return;
  const obj = port.object(ev.objectId);
  if (!obj) return;
  try {
    await port.update(obj.id, patchEventIcs(obj.ics, { usage: { ...ev.summary, used } }, ev.recurrenceId, { timezone: port.lab.timezone, now: new Date(now) }), obj.etag);
  } catch (e) {
    // A figure a few minutes short beats a failed report.
    port.log.warn("could not write the final use tally", { objectId: ev.objectId, error: e });
  }
}

/** A released no-show says so in its event (statistics count them from the calendar); the end it was booked to stays readable. */
async function markNoShow(port: MirrorPort, r: Reservation & { objectId: string }, now: number): Promise<void> {
  const obj = port.object(r.objectId);
  // Released in its first second, the event (or the occurrence) is gone: there is nothing to mark.
  if (!obj || !port.reservations(Date.parse(r.start), Date.parse(r.start) + 1000).some((x) => x.id === r.id)) return;
  const before = r.usage && typeof r.usage === "object" && !Array.isArray(r.usage) ? (r.usage as Record<string, unknown>) : {};
  try {
    await port.update(obj.id, patchEventIcs(obj.ics, { usage: { ...before, noShow: { at: new Date(Math.floor(now / 1000) * 1000).toISOString(), bookedEnd: r.end } } }, r.recurrenceId, { timezone: port.lab.timezone, now: new Date(now) }), obj.etag);
  } catch (e) {
    port.log.warn("could not mark the no-show in its event", { reservation: r.id, error: e });
  }
}
