import type { Context, Hono } from "hono";
import type { FC } from "hono/jsx";
import { raw } from "hono/html";
import { LabhogError } from "../../calendar/errors.ts";
import { authOff } from "../auth/authenticate.ts";
import { effectiveEnv, type Env } from "../env.ts";
import { labOf } from "../lab.ts";
import { log } from "../log.ts";
import { loadStats, statsWindow, type StatsAnswer } from "../stats/api.ts";
import type { StatsBy, StatsRow } from "../stats/compute.ts";
import { principalOf } from "./session.ts";
import { nonceOf } from "./security-headers.ts";
import { StatsChart, STATS_CHART_STYLES } from "./stats-chart.tsx";
import { STYLES } from "./styles.ts";
import { startOfDay, zonedToUtc } from "./time.ts";

/**
 * GET /status/stats: the usage statistics (GET /api/v1/stats) as a page, a
 * chart drawn on the server and the table. The window is picked by whole
 * days in the lab's zone with a plain GET form, so it works without script
 * and every view has its own URL. Who may see it: as for the status page.
 */
type Any = Context<any>;

const BY: StatsBy[] = ["resource", "pool", "user"];
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

const dayInput = (tz: string, ms: number) => new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(ms));

/** The window from the form: from's midnight to the midnight after `to` (both days included), in the lab's zone; the last 7 whole days by default. */
export function pageWindow(tz: string, q: { from?: string | undefined; to?: string | undefined; by?: string | undefined }, now: number): { from: number; to: number; by: StatsBy } {
  const day = (v: string | undefined, name: string, next: boolean): number | undefined => {
    if (v === undefined || v === "") return undefined;
    const m = DAY_RE.exec(v);
    if (!m) throw new LabhogError("invalid", 400, `${name}: a date like 2026-05-04`);
    const ms = zonedToUtc(tz, +m[1]!, +m[2]!, +m[3]!);
    return next ? startOfDay(tz, ms + 43_200_000, 1) : ms;
  };
  if (q.by !== undefined && q.by !== "" && !BY.includes(q.by as StatsBy)) throw new LabhogError("invalid", 400, `by: one of ${BY.join(", ")}`);
  const to = day(q.to, "to", true) ?? startOfDay(tz, now);
  const from = day(q.from, "from", false) ?? startOfDay(tz, to - 43_200_000, -6);
  const w = statsWindow({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), by: (q.by || "resource") as StatsBy }, now);
  return w;
}

const h = (n: number) => n.toFixed(2);

const Row: FC<{ r: StatsRow; total?: boolean }> = ({ r, total }) => (
  <tr class={total ? "total" : undefined}>
    <th scope="row">{r.group}</th>
    <td>{h(r.bookedHours)}</td>
    <td>{h(r.usedHours)}</td>
    <td>{h(r.idleHours)}</td>
    <td>{h(r.unbookedHours)}</td>
    <td>{String(r.noShows)}</td>
    <td>{r.utilisation.toFixed(1)}</td>
  </tr>
);

const PAGE_STYLES = `
.stats-form{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:end;margin:12px 0}
.stats-form label{display:flex;flex-direction:column;gap:2px;color:var(--mute);font-size:12px}
table.stats{border-collapse:collapse;margin:8px 0;background:var(--card)}
table.stats th,table.stats td{border:1px solid var(--line);padding:3px 8px;text-align:right}
table.stats th[scope=row],table.stats thead th:first-child{text-align:left}
table.stats tr.total{font-weight:600}
.key{display:flex;gap:12px;color:var(--mute);font-size:12px;align-items:center}
.key i{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}
.key .k-booked{background:var(--acc2)}.key .k-used{background:var(--acc)}.key .k-unbooked{background:var(--warn)}
`;

export const StatsPage: FC<{ site: string; tz: string; w: { from: number; to: number; by: StatsBy }; s: StatsAnswer | null; error?: string; locked?: boolean; nonce: string }> = ({ site, tz, w, s, error, locked, nonce }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      <title>{`labhog · ${site} · statistics`}</title>
      <style nonce={nonce}>{raw(STYLES + STATS_CHART_STYLES + PAGE_STYLES)}</style>
    </head>
    <body>
      <header>
        <h1>
          labhog <span class="site">{site}</span> · statistics
        </h1>
        <nav aria-label="links">
          <a href="/status">Status</a> · <a href="/openapi.json">API</a>
        </nav>
      </header>
      <main>
        {locked ? (
          <p class="notice">
            <a href="/status">Sign in on the status page</a> to see the statistics.
          </p>
        ) : (
          <form class="stats-form" method="get" action="/status/stats">
            <label>
              From
              <input type="date" name="from" value={dayInput(tz, w.from)} />
            </label>
            <label>
              To (included)
              <input type="date" name="to" value={dayInput(tz, w.to - 1)} />
            </label>
            <label>
              Per
              <select name="by">
                {BY.map((b) => (
                  <option value={b} selected={b === w.by}>
                    {b}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit" class="primary">
              Show
            </button>
          </form>
        )}
        {error ? (
          <p class="err banner" role="alert">
            {error}
          </p>
        ) : null}
        {s ? (
          <>
            <p class="summary">
              {`${dayInput(tz, w.from)} to ${dayInput(tz, w.to - 1)} (${tz}): used ${h(s.total.usedHours)} h of ${h(s.total.bookedHours)} h booked, ${s.total.utilisation.toFixed(1)} % of the time of ${s.total.resources} resource(s); ${s.total.noShows} no-show(s).`}
              {s.stale ? " Some calendars could not be reached: their part is from the Worker's cache." : ""}
            </p>
            <div class="key" aria-hidden="true">
              <span>
                <i class="k-booked" />
                booked
              </span>
              <span>
                <i class="k-used" />
                used in bookings
              </span>
              <span>
                <i class="k-unbooked" />
                unbooked use
              </span>
            </div>
            <StatsChart rows={s.groups} by={w.by} />
            <table class="stats">
              <caption class="sr">{`Usage per ${w.by}, hours`}</caption>
              <thead>
                <tr>
                  <th scope="col">{w.by}</th>
                  <th scope="col">booked h</th>
                  <th scope="col">used h</th>
                  <th scope="col">idle h</th>
                  <th scope="col">unbooked h</th>
                  <th scope="col">no-shows</th>
                  <th scope="col">util %</th>
                </tr>
              </thead>
              <tbody>
                {s.groups.map((r) => (
                  <Row r={r} />
                ))}
                <Row r={s.total} total />
              </tbody>
            </table>
            <p class="muted">
              Used: time the agents saw the holder logged in (or a USB device attached), plus unbooked use. Idle: booked time already past minus that use. Utilisation: used time over the window times the resources. From the calendars; <code>labhog stats</code> and <code>GET /api/v1/stats</code> give the same numbers.
            </p>
          </>
        ) : null}
      </main>
    </body>
  </html>
);

/** Anyone may look when auth is off or STATUS_PUBLIC=true (wall screens); otherwise signed-in users (as for /status). */
function mayView(env: Env, signedIn: boolean): boolean {
  return signedIn || authOff(env) || env.STATUS_PUBLIC === "true";
}

export function registerStatsPage(app: Hono<any>): void {
  app.get("/status/stats", async (c: Any) => {
    const env = effectiveEnv(c.env as Env);
    const lab = labOf(env);
    const nonce = nonceOf(c);
    const now = Date.now();
    const page = async (w: { from: number; to: number; by: StatsBy }, s: StatsAnswer | null, status: number, extra: { error?: string; locked?: boolean } = {}) =>
      c.html("<!DOCTYPE html>" + (await (<StatsPage site={lab.site} tz={lab.timezone} w={w} s={s} nonce={nonce} {...extra} />).toString()), status as 200, { "cache-control": "no-store" });
    const fallback = { from: startOfDay(lab.timezone, now, -7), to: startOfDay(lab.timezone, now), by: "resource" as StatsBy };
    const { principal } = await principalOf(c, env, lab);
    if (!mayView(env, !!principal)) return page(fallback, null, 401, { locked: true });
    let w = fallback;
    try {
      w = pageWindow(lab.timezone, { from: c.req.query("from"), to: c.req.query("to"), by: c.req.query("by") }, now);
      return page(w, await loadStats(env, lab, w, now), 200);
    } catch (e) {
      if (!(e instanceof LabhogError)) {
        log.error("statistics page failed", { error: e });
        return page(w, null, 500, { error: "internal error" });
      }
      return page(w, null, e.status, { error: e.message });
    }
  });
}
