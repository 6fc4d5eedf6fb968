import type { FC } from "hono/jsx";
import { raw } from "hono/html";
import type { Reservation } from "../../calendar/model.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";
import { describeUsage } from "../usage/live.ts";
import type { ResourceRow, StatusModel } from "./model.ts";
import { STYLES } from "./styles.ts";
import { REFRESH_SCRIPT } from "./refresh-script.ts";
import { AxisHeader, Timeline, axisOf, describeReservation, pos, type Axis } from "./timeline.tsx";
import { ago, fmtWhen, toLocalInput } from "./time.ts";
import { NOTICE_STYLES, NoticeBanner } from "./notice-banner.tsx";

/** A form the user posted and got an error for: shown again, open, with their values. */
export interface FormEcho {
  resource: string;
  values: Record<string, string>;
  error: string;
}

export interface PageOptions {
  notice?: string;
  error?: string;
  echo?: FormEcho;
  /** Wall screens without JavaScript: reload every n seconds. */
  refresh?: number;
}

const DURATIONS: Array<[string, string]> = [
  ["30m", "30 min"],
  ["1h", "1 hour"],
  ["2h", "2 hours"],
  ["4h", "4 hours"],
  ["8h", "8 hours"],
  ["1d", "1 day"],
  ["3d", "3 days"],
];
const EXTENDS: Array<[string, string]> = [
  ["15m", "15 min"],
  ["1h", "1 hour"],
  ["2h", "2 hours"],
  ["4h", "4 hours"],
];

const Csrf: FC<{ m: StatusModel }> = ({ m }) => <input type="hidden" name="csrf" value={m.csrf} />;

const AgentBadge: FC<{ row: ResourceRow; now: number }> = ({ row, now }) => {
  const a = row.view.agent;
  if (!a) return <span class="pill muted">no agent</span>;
  const seen = a.lastSeen ? Date.parse(a.lastSeen) : undefined;
  const cls = a.status === "online" ? "pill ok" : a.status === "offline" ? "pill bad" : "pill muted";
  return (
    <span class={cls} title={`agent ${a.id}${a.lastSeen ? `, last seen ${a.lastSeen}` : ""}`}>
      <span aria-hidden="true">{a.status === "online" ? "●" : "○"}</span> {a.id} {a.status}
      {seen !== undefined ? (
        <>
          {" · "}
          <time data-ago datetime={a.lastSeen!}>{ago(seen, now)}</time>
        </>
      ) : null}
    </span>
  );
};

/** The ledger answered from its cache because the calendar can't be reached: say so, and how old the picture is. */
const CalendarStale: FC<{ row: ResourceRow; m: StatusModel }> = ({ row, m }) => {
  const v = row.view;
  if (!v.stale || v.unreadable || v.syncing) return null;
  const since = v.unreachableSince ?? v.lastSync;
  return (
    <p class="calendar-stale">
      calendar unreachable since {since ? <time datetime={since}>{fmtWhen(m.tz, Date.parse(since), m.now)}</time> : "?"}
      {v.lastSync ? (
        <>
          {" "}
          · as last read <time data-ago datetime={v.lastSync}>{ago(Date.parse(v.lastSync), m.now)}</time>
        </>
      ) : null}
    </p>
  );
};

const Holding: FC<{ row: ResourceRow; m: StatusModel }> = ({ row, m }) => {
  // Never "Free" for a calendar labhog has not read.
  if (row.view.unreadable) return <p class="holding unknown calendar-stale">calendar unreachable — labhog has not read it yet, so who holds it is unknown</p>;
  if (row.view.syncing) return <p class="holding unknown syncing">reading its calendar — who holds it is not known yet</p>;
  const cur = row.view.current;
  const next = row.view.next;
  if (cur.length) {
    return (
      <p class="holding busy">
        {cur.map((r) => (
          <span class="who">
            <strong>{r.holder.id ?? `unknown (${r.holder.raw || "no holder"})`}</strong> until <time datetime={r.end}>{fmtWhen(m.tz, Date.parse(r.end), m.now)}</time>
            {r.purpose ? <span class="purpose"> — {r.purpose}</span> : null}
            {r.exclusive ? null : <span class="tag"> shared</span>}
          </span>
        ))}
      </p>
    );
  }
  const unbooked = row.view.unbookedUse;
  return (
    <p class="holding free">
      <strong>Free</strong>
      {unbooked ? <span class="unbooked-note"> · in use without a booking ({unbooked.holder.id ?? unbooked.holder.raw})</span> : null}
      {next ? (
        <span class="next">
          {" "}
          · next: {next.holder.id ?? "?"} at <time datetime={next.start}>{fmtWhen(m.tz, Date.parse(next.start), m.now)}</time>
        </span>
      ) : (
        <span class="next"> · nothing booked</span>
      )}
    </p>
  );
};

/** Whether the agent got the booking in place; unknown (never reported) is said so, not shown as fine. */
const Enforcement: FC<{ row: ResourceRow; m: StatusModel }> = ({ row, m }) => {
  if (!row.view.agent) return null;
  const e = row.view.enforcement;
  if (e.ok === null) {
    if (!e.at) return <p class="enforcement unknown">enforcement unknown: the agent has not reported it</p>;
    return (
      <p class="enforcement unknown">
        enforcement unknown: agent offline (last report <time data-ago datetime={e.at}>{ago(Date.parse(e.at), m.now)}</time>: {e.problems.length ? `not enforced: ${e.problems.join("; ")}` : "enforced"})
      </p>
    );
  }
  const since = e.since ? (
    <>
      {" "}
      <time class="muted" datetime={e.since}>
        (since {fmtWhen(m.tz, Date.parse(e.since), m.now)})
      </time>
    </>
  ) : null;
  if (e.ok) return <p class="enforcement ok">✓ enforced{since}</p>;
  return (
    <p class="enforcement bad" role="alert">
      <strong>not enforced: {e.problems.join("; ")}</strong>
      {since}
    </p>
  );
};

const Usage: FC<{ row: ResourceRow; m: StatusModel }> = ({ row, m }) => {
  const u = row.usage;
  if (!u) return <p class="usage muted">no live usage reported</p>;
  const stale = u.at && m.now - Date.parse(u.at) > 15 * 60_000;
  return (
    <p class={stale ? "usage stale" : "usage"}>
      <span class="k">Live</span> {describeUsage(u)}
      {u.at ? (
        <>
          {" "}
          <span class="muted">
            (<time data-ago datetime={u.at}>{ago(Date.parse(u.at), m.now)}</time>)
          </span>
        </>
      ) : null}
    </p>
  );
};

const ReservationActions: FC<{ r: Reservation; m: StatusModel }> = ({ r, m }) => (
  <div class="acts" role="group" aria-label={`${r.id}: ${describeReservation(r, m.tz, m.now)}`}>
    <span class="acts-what">
      {r.state === "active" ? "Now" : fmtWhen(m.tz, Date.parse(r.start), m.now)}: {r.holder.id}
    </span>
    <form method="post" action="/status/extend" class="inline">
      <Csrf m={m} />
      <input type="hidden" name="id" value={r.id} />
      <label class="sr" for={`ext-${r.id}`}>
        Extend {r.id} by
      </label>
      <select id={`ext-${r.id}`} name="by">
        {EXTENDS.map(([v, l]) => (
          <option value={v}>+{l}</option>
        ))}
      </select>
      <button type="submit">Extend</button>
    </form>
    <form method="post" action="/status/release" class="inline">
      <Csrf m={m} />
      <input type="hidden" name="id" value={r.id} />
      <button type="submit" class="danger">
        {r.state === "active" ? "Release" : "Cancel"}
      </button>
    </form>
    {r.state === "active" && m.principal?.kind === "user" && r.holder.id === m.principal.id ? (
      <a class="console-link" href={`/status/console/${encodeURIComponent(r.resource)}`}>
        Console
      </a>
    ) : null}
  </div>
);

const BookForm: FC<{ row: ResourceRow; m: StatusModel; echo?: FormEcho }> = ({ row, m, echo }) => {
  const id = row.view.id;
  const v = echo?.resource === id ? echo.values : {};
  const f = (name: string) => `book-${id}-${name}`;
  return (
    <details class="book" open={echo?.resource === id}>
      <summary>Book {row.view.name}</summary>
      <form method="post" action="/status/book">
        <Csrf m={m} />
        <input type="hidden" name="resource" value={id} />
        {echo?.resource === id ? (
          <p class="err" role="alert" id={f("err")}>
            {echo.error}
          </p>
        ) : null}
        <div class="fields">
          <label for={f("start")}>
            Start <span class="muted">({m.tz})</span>
          </label>
          <input id={f("start")} name="start" type="datetime-local" value={v.start ?? toLocalInput(m.tz, m.now)} required />
          <label for={f("duration")}>Duration</label>
          <select id={f("duration")} name="duration">
            {DURATIONS.map(([d, l]) => (
              <option value={d} selected={(v.duration ?? "1h") === d}>
                {l}
              </option>
            ))}
          </select>
          <label for={f("purpose")}>Purpose</label>
          <input id={f("purpose")} name="purpose" type="text" maxlength={200} value={v.purpose ?? ""} placeholder="e.g. bootloader bring-up" />
          <span />
          <label class="check">
            <input type="checkbox" name="shared" value="1" checked={v.shared === "1"} /> shared (others may use it too)
          </label>
        </div>
        <button type="submit" class="primary">
          Book {id}
        </button>
      </form>
    </details>
  );
};

export const Row: FC<{ row: ResourceRow; m: StatusModel; axis: Axis; echo?: FormEcho }> = ({ row, m, axis, echo }) => {
  const v = row.view;
  const me = m.principal?.kind === "user" ? m.principal.id : undefined;
  const mine = row.reservations.filter((r) => !isUnbookedUse(r) && (r.state === "active" || r.state === "upcoming") && m.mayChange(r)).slice(0, 4);
  const conflicts = row.reservations.filter((r) => r.state === "conflict").length || v.conflicts;
  return (
    <section class={conflicts ? "res conflicted" : "res"} id={`r-${v.id}`} aria-labelledby={`h-${v.id}`}>
      <div class="info" id={`live-${v.id}`} data-live>
        <h3 id={`h-${v.id}`}>
          {v.name}
          {v.name !== v.id ? <span class="rid"> {v.id}</span> : null}
          <span class="kind"> {v.kind}</span>
          <a class="feed" href={`/feeds/${v.id}.ics`} title={`Subscribe to ${v.name}'s calendar (iCalendar feed)`} aria-label={`ics: subscribe to ${v.name}'s calendar (iCalendar feed)`}>
            ics
          </a>
        </h3>
        <div class="meta">
          <AgentBadge row={row} now={m.now} />
          {conflicts ? (
            <span class="pill bad conflict" role="note">
              ⚠ {conflicts} conflict{conflicts > 1 ? "s" : ""}
            </span>
          ) : null}
          {Object.entries(v.tags).map(([k, t]) => (
            <span class="tag">
              {k}={t}
            </span>
          ))}
        </div>
        <NoticeBanner notices={v.notices ?? []} tz={m.tz} now={m.now} />
        <CalendarStale row={row} m={m} />
        <Holding row={row} m={m} />
        <Enforcement row={row} m={m} />
        <Usage row={row} m={m} />
        {mine.length ? (
          <div class="mine">
            {mine.map((r) => (
              <ReservationActions r={r} m={m} />
            ))}
          </div>
        ) : null}
      </div>
      <div class="week" id={`tl-${v.id}`} data-live>
        <Timeline axis={axis} reservations={row.reservations} me={me} label={v.name} />
      </div>
      {row.mayBook ? <BookForm row={row} m={m} {...(echo ? { echo } : {})} /> : null}
    </section>
  );
};

export const Board: FC<{ m: StatusModel; echo?: FormEcho }> = ({ m, echo }) => {
  const axis = axisOf(m.tz, m.now, m.from, m.to);
  const total = m.groups.reduce((n, g) => n + g.rows.length, 0);
  const busy = m.groups.reduce((n, g) => n + g.rows.filter((r) => r.view.current.length > 0).length, 0);
  return (
    <div id="board">
      <p class="summary" id="summary" data-live>
        {busy} of {total} in use · updated{" "}
        <time datetime={new Date(m.now).toISOString()} data-now={`${pos(axis, axis.now)}%`}>
          {fmtWhen(m.tz, m.now, m.now)}
        </time>
      </p>
      {m.groups.map((g) => (
        <section class="pool" aria-labelledby={`pool-${g.id ?? "other"}`}>
          <div class="pool-head">
            <h2 id={`pool-${g.id ?? "other"}`}>
              {g.name}
              {g.id ? (
                <a class="feed" href={`/feeds/pool/${g.id}.ics`} title={`Subscribe to every ${g.name} booking (iCalendar feed)`} aria-label={`ics: subscribe to every ${g.name} booking (iCalendar feed)`}>
                  ics
                </a>
              ) : null}
            </h2>
            <div class="axis-wrap" id={`axis-${g.id ?? "other"}`} data-live>
              <AxisHeader axis={axis} />
            </div>
          </div>
          {g.rows.map((row) => (
            <Row row={row} m={m} axis={axis} {...(echo ? { echo } : {})} />
          ))}
        </section>
      ))}
    </div>
  );
};

const SignIn: FC<{ m: StatusModel }> = ({ m }) => (
  <form method="post" action="/status/sign-in" class="signin">
    <Csrf m={m} />
    <label for="token">API token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required size={24} />
    <button type="submit">Sign in</button>
    {m.authProblem ? (
      <span class="err" role="alert">
        {m.authProblem}
      </span>
    ) : null}
  </form>
);

const Who: FC<{ m: StatusModel }> = ({ m }) => {
  const p = m.principal;
  if (!p) return <SignIn m={m} />;
  return (
    <form method="post" action="/status/sign-out" class="signin">
      <Csrf m={m} />
      <span>
        Signed in as <strong>{p.id}</strong>
        {p.kind === "agent" ? " (agent)" : ""}
      </span>
      {p.via === "token" ? <button type="submit">Sign out</button> : null}
    </form>
  );
};

/** nonce: this response's CSP nonce, the only way the inline script and stylesheet may run. */
export const Page: FC<{ m: StatusModel; o: PageOptions; nonce: string }> = ({ m, o, nonce }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="color-scheme" content="light dark" />
      {o.refresh ? <meta http-equiv="refresh" content={String(o.refresh)} /> : null}
      <title>{`labhog · ${m.lab.site}`}</title>
      <style nonce={nonce}>{raw(STYLES + NOTICE_STYLES)}</style>
    </head>
    <body>
      <a class="skip" href="#board">
        Skip to resources
      </a>
      <header>
        <h1>
          labhog <span class="site">{m.lab.site}</span>
        </h1>
        <nav aria-label="links">
          <a href="/status/stats">Statistics</a> · <a href="/openapi.json">API</a>
        </nav>
        <Who m={m} />
      </header>
      <main>
        {o.notice ? (
          <p class="notice" role="status">
            {o.notice}
          </p>
        ) : null}
        {o.error && !(o.echo && m.groups.some((g) => g.rows.some((r) => r.view.id === o.echo!.resource && r.mayBook))) ? (
          <p class="err banner" role="alert">
            {o.error}
          </p>
        ) : null}
        {m.locked ? <p class="notice">Sign in with your labhog API token to see the lab.</p> : null}
        <div class="legend" aria-hidden="true">
          <span class="sw active" />
          in use <span class="sw upcoming" />
          booked <span class="sw mine" />
          yours <span class="sw shared" />
          shared <span class="sw conflict" />
          conflict <span class="sw unbooked" />
          unbooked use <span class="sw nowsw" /> now
        </div>
        <div aria-live="polite" aria-atomic="true" class="sr" id="announce" />
        <Board m={m} {...(o.echo ? { echo: o.echo } : {})} />
      </main>
      <script nonce={nonce}>{raw(REFRESH_SCRIPT)}</script>
    </body>
  </html>
);
