import type { FC } from "hono/jsx";
import type { Reservation } from "../../calendar/model.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";
import { fmtDay, fmtTime, fmtWhen, startOfDay } from "./time.ts";

/**
 * Today gets three times the width of each following day: the hours that
 * matter now stay readable while the week still fits in one glance.
 */
const TODAY_SHARE = 0.3;
const HOUR = 3_600_000;

export interface Axis {
  tz: string;
  now: number;
  from: number;
  endOfToday: number;
  to: number;
}

export function axisOf(tz: string, now: number, from: number, to: number): Axis {
  return { tz, now, from, endOfToday: startOfDay(tz, now, 1), to };
}

/** Position (0…100 %) of an instant on the axis. */
export function pos(a: Axis, t: number): number {
  const c = Math.min(Math.max(t, a.from), a.to);
  const f = c < a.endOfToday ? ((c - a.from) / (a.endOfToday - a.from)) * TODAY_SHARE : TODAY_SHARE + ((c - a.endOfToday) / (a.to - a.endOfToday)) * (1 - TODAY_SHARE);
  return Math.round(f * 10_000) / 100;
}

function days(a: Axis): number[] {
  const out: number[] = [];
  for (let i = 0; i < 9; i++) {
    const d = startOfDay(a.tz, a.from, i);
    if (d > a.to) break;
    out.push(d);
  }
  return out;
}

/** Day labels and today's hour marks, shared by every row of a pool. */
export const AxisHeader: FC<{ axis: Axis }> = ({ axis }) => {
  const ds = days(axis);
  return (
    <div class="axis" aria-hidden="true">
      {ds.slice(0, -1).map((d, i) => (
        <span class={i === 0 ? "day today" : "day"} style={`left:${pos(axis, d)}%;width:${pos(axis, ds[i + 1]!) - pos(axis, d)}%`}>
          {i === 0 ? "Today" : fmtDay(axis.tz, d)}
        </span>
      ))}
      {[6, 12, 18].map((h) => (
        <span class="hour" style={`left:${pos(axis, axis.from + h * HOUR)}%`}>
          {String(h).padStart(2, "0")}
        </span>
      ))}
    </div>
  );
};

function barClass(r: Reservation, me: string | undefined): string {
  const c = ["bar", r.state];
  if (isUnbookedUse(r)) c.push("unbooked");
  else if (!r.exclusive) c.push("shared");
  if (me && r.holder.id === me) c.push("mine");
  return c.join(" ");
}

export function describeReservation(r: Reservation, tz: string, now: number): string {
  const who = r.holder.id ?? `unknown holder (${r.holder.raw || "nobody"})`;
  const when = `${fmtWhen(tz, Date.parse(r.start), now)}–${fmtWhen(tz, Date.parse(r.end), now)}`;
  if (isUnbookedUse(r)) return `${r.purpose || `unbooked use by ${who}`}, ${when}`;
  const what = r.purpose ? `: ${r.purpose}` : "";
  const flags = [r.state === "conflict" ? "CONFLICT" : "", r.exclusive ? "" : "shared"].filter(Boolean).join(", ");
  return `${who}${what}, ${when}${flags ? ` (${flags})` : ""}`;
}

/** One resource's week as a strip of bars, with a now-line; the bars are a list for screen readers. */
export const Timeline: FC<{ axis: Axis; reservations: Reservation[]; me: string | undefined; label: string }> = ({ axis, reservations, me, label }) => {
  const ds = days(axis);
  return (
    <div class="tl">
      {ds.slice(1, -1).map((d) => (
        <span class="gl" style={`left:${pos(axis, d)}%`} aria-hidden="true" />
      ))}
      {[6, 12, 18].map((h) => (
        <span class="gl hr" style={`left:${pos(axis, axis.from + h * HOUR)}%`} aria-hidden="true" />
      ))}
      <ol class="bars" aria-label={`${label}: bookings today and the next 7 days`}>
        {reservations.length === 0 ? <li class="sr">no bookings</li> : null}
        {reservations.map((r) => {
          const left = pos(axis, Date.parse(r.start));
          const width = Math.max(0.6, pos(axis, Date.parse(r.end)) - left);
          const text = describeReservation(r, axis.tz, axis.now);
          return (
            <li class={barClass(r, me)} style={`left:${left}%;width:${width}%`} title={text}>
              <span class="sr">{text}</span>
              <span class="lbl" aria-hidden="true">
                {r.state === "conflict" ? "⚠ " : ""}
                {isUnbookedUse(r) ? `? ${r.holder.id ?? ""}` : (r.holder.id ?? "?")}
              </span>
            </li>
          );
        })}
      </ol>
      <span class="now" style={`left:${pos(axis, axis.now)}%`} title={`now ${fmtTime(axis.tz, axis.now)}`} aria-hidden="true" />
    </div>
  );
};
