/**
 * How long a reservation was actually used, tallied from the agent's usage
 * reports and written into the event with the usage summary
 * (X-LABHOG-USAGE `used`), so statistics can be computed from the calendar
 * alone, long after the Worker's state is gone.
 *
 * Reports arrive every minute or so, and when something changes. The time
 * between two reports counts as used when the earlier one showed the holder
 * checked in (one of their logins had a session, or a USB device was
 * attached): what a report says holds until the next one, but for at most
 * MAX_GAP_MS (an agent gone silent proves nothing), and nothing outside the
 * reservation's own span counts.
 */
export interface UseTally {
  /** The reservation id (an occurrence of a series has its own). */
  id: string;
  /** Seconds used so far. */
  s: number;
  /** First and last moment of use (ISO), null before any use. */
  first: string | null;
  last: string | null;
  /** The previous report: when, and whether it showed use. */
  at: number;
  using: boolean;
  /** `s` as last written into the event. */
  written: number;
}

/** What goes into the event: `{"used":{"s":5400,"first":"…","last":"…"}}`, at most USED_FIELD_CHARS characters. */
export interface UsedField {
  s: number;
  first: string;
  last: string;
}

export const MAX_GAP_MS = 10 * 60_000;
/** Room kept in the usage summary's 600-character budget for `"used":{…}` (`,"used":{"s":9999999,"first":"…Z","last":"…Z"}` is 82 characters). */
export const USED_FIELD_CHARS = 90;
/** A tally this far ahead of what the event says is written even when the live line is unchanged. */
export const TALLY_WRITE_STEP_S = 300;

/** Second-precision ISO ("2026-05-04T09:00:00Z"): what the calendar keeps, and 4 characters shorter. */
const iso = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

export const newTally = (id: string, now: number): UseTally => ({ id, s: 0, first: null, last: null, at: now, using: false, written: 0 });

/** Adds the time since the previous report, then records what this report shows. Pure: returns a new tally. */
export function tallyReport(t: UseTally, span: { start: string; end: string }, now: number, using: boolean): UseTally {
  const out = { ...t };
  if (t.using && now > t.at) {
    const from = Math.max(t.at, Date.parse(span.start));
    const to = Math.min(now, t.at + MAX_GAP_MS, Date.parse(span.end));
    if (to > from) {
      out.s = Math.round((t.s * 1000 + (to - from)) / 1000);
      out.first = t.first ?? iso(from);
      out.last = iso(to);
    }
  }
  if (using && out.first === null) out.first = iso(Math.max(now, Date.parse(span.start)));
  if (using) out.last = iso(Math.min(Math.max(now, Date.parse(span.start)), Date.parse(span.end)));
  out.at = now;
  out.using = using;
  return out;
}

export function usedField(t: UseTally): UsedField | undefined {
  return t.first && t.last ? { s: t.s, first: t.first, last: t.last } : undefined;
}

/** Whether the tally should be written although nothing a person reads changed. */
export const tallyDue = (t: UseTally): boolean => t.s - t.written >= TALLY_WRITE_STEP_S;
