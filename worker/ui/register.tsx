import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { LabhogError } from "../../calendar/errors.ts";
import { authenticate } from "../auth/authenticate.ts";
import type { Principal } from "../auth/principal.ts";
import { effectiveEnv, type Env } from "../env.ts";
import { labOf } from "../lab.ts";
import { log } from "../log.ts";
import { bookFromForm, extendFromForm, releaseFromForm } from "./actions.ts";
import { loadStatus, type StatusModel } from "./model.ts";
import { regionsOf, versionOf, VersionMemory, type BoardVersion, type Region } from "./live-delta.ts";
import { inputDigest, RenderMemo } from "./render-memo.ts";
import { listWaitOf } from "../api/views.ts";
import { Board, Page, type FormEcho, type PageOptions } from "./page.tsx";
import { assertCsrf, clearSession, csrfToken, principalOf, setSession } from "./session.ts";
import { nonceOf, statusSecurityHeaders } from "./security-headers.ts";
import { authOff } from "../auth/authenticate.ts";
import { registerStatsPage } from "./stats-page.tsx";

/**
 * GET /status (the page), GET /status/live (the board fragment the page
 * polls), and the form posts: sign-in/out, book, extend, release. Every post
 * answers 303 back to the page on success (so reload never re-posts) and the
 * page with the API's error message and status on failure.
 */
type Any = Context<any>;

const DONE: Record<string, string> = {
  booked: "Booked",
  extended: "Extended",
  released: "Released",
  "signed-in": "Signed in",
  "signed-out": "Signed out",
};

/** Anyone may look when auth is off or STATUS_PUBLIC=true (wall screens); otherwise sign in first. */
function mayView(env: Env, p: Principal | null): boolean {
  return !!p || authOff(env) || env.STATUS_PUBLIC === "true";
}

async function model(c: Any, env: Env, now = Date.now()): Promise<StatusModel> {
  const lab = labOf(env);
  const { principal, problem } = await principalOf(c, env, lab);
  const csrf = csrfToken(c);
  if (!mayView(env, principal)) {
    const m = await loadStatus(env, { ...lab, resources: {}, pools: {} }, null, csrf, now);
    return { ...m, lab, locked: true, ...(problem ? { authProblem: problem } : {}) };
  }
  // Ledgers still waking after LIST_WAIT_MS show as "reading its calendar" and go on syncing; the next poll finds them.
  const m = await loadStatus(env, lab, principal, csrf, now, { waitMs: listWaitOf(env), waitUntil: (p) => c.executionCtx.waitUntil(p) });
  return problem ? { ...m, authProblem: problem } : m;
}

function pageOptions(c: Any): PageOptions {
  const done = c.req.query("done");
  const id = c.req.query("r");
  const refresh = Number(c.req.query("refresh"));
  const o: PageOptions = {};
  if (done && DONE[done]) o.notice = `${DONE[done]}${id && /^[A-Za-z0-9._:@/-]{1,300}$/.test(id) ? ` ${id}` : ""}.`;
  if (Number.isInteger(refresh) && refresh >= 10 && refresh <= 3600) o.refresh = refresh;
  return o;
}

/** Framing, referrer and CSP headers come from statusSecurityHeaders. */
const noStore = { "cache-control": "no-store" };
/** The live fragment may be kept by the viewer's browser, but only to revalidate it (If-None-Match). */
const revalidate = { ...noStore, "cache-control": "private, no-cache" };

/**
 * The board the viewers poll is drawn as of the current minute (its now-line,
 * "updated", "seen … ago" move by the minute anyway), so between two changes
 * it is the same bytes: a poll that finds nothing new is a 304 without a body.
 */
const LIVE_CLOCK_MS = 60_000;

/** The board versions this isolate served, for the viewers' `?since=` polls (live-delta.ts). */
const versions = new VersionMemory();
/** Board versions by what they were drawn from, so an unchanged poll is not drawn again (render-memo.ts). */
const drawn = new RenderMemo();

/** Cuts a rendered board (or page) into its live regions and remembers their version. */
async function boardVersion(html: string): Promise<{ v: BoardVersion; regions: Region[] }> {
  const regions = regionsOf(html);
  const v = await versionOf(regions);
  versions.remember(v);
  return { v, regions };
}

async function render(c: Any, env: Env, o: PageOptions, status = 200): Promise<Response> {
  const m = await model(c, env);
  const html = (await (<Page m={m} o={o} nonce={nonceOf(c)} />).toString()) as string;
  // The page says which board it shows, so its first poll already asks only for what changed since.
  const { v } = await boardVersion(html);
  return c.html("<!DOCTYPE html>" + html.replace('<div id="board">', `<div id="board" data-version="${v.version}">`), status as 200, noStore);
}

async function formOf(c: Any): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) if (typeof v === "string") out[k] = v.slice(0, 2000);
  return out;
}

const back = (c: Any, done: string, r?: { id: string; resource: string }) =>
  c.redirect(`/status?done=${done}${r ? `&r=${encodeURIComponent(r.id)}#r-${encodeURIComponent(r.resource)}` : ""}`, 303);

/** Runs a form action for a signed-in user; errors come back as the page with the API's message. */
async function act(c: Any, run: (env: Env, p: Principal, form: Record<string, string>) => Promise<Response>, echoOf?: (form: Record<string, string>, error: string) => FormEcho): Promise<Response> {
  const env = effectiveEnv(c.env as Env);
  let form: Record<string, string> = {};
  try {
    form = await formOf(c);
    assertCsrf(c, form);
    const { principal } = await principalOf(c, env, labOf(env));
    if (!principal) throw new LabhogError("unauthorized", 401, "sign in first");
    return await run(env, principal, form);
  } catch (e) {
    if (!(e instanceof LabhogError)) {
      log.error("status page action failed", { error: e, path: c.req.path });
      return render(c, env, { error: "internal error" }, 500);
    }
    const echo = echoOf && e.code !== "csrf" ? echoOf(form, e.message) : undefined;
    return render(c, env, { error: e.message, ...(echo ? { echo } : {}) }, e.status);
  }
}

export function registerStatusPage(app: Hono<any>): void {
  // "/status/*" covers /status itself too.
  app.use("/status/*", statusSecurityHeaders);
  app.use("/status/*", bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.text("form too large", 413) }));
  app.get("/", (c) => c.redirect("/status", 302));

  app.get("/status", async (c) => render(c, effectiveEnv(c.env as Env), pageOptions(c)));

  // The usage statistics with their chart (stats-page.tsx).
  registerStatsPage(app);

  /**
   * The board fragment. Its version (the ETag, and X-Labhog-Version) covers
   * what viewers see change, not the clock (live-delta.ts). A viewer that
   * names the version it shows (`?since=`, or If-None-Match) gets 304 when
   * nothing changed, only the changed regions when it is one this isolate
   * remembers (X-Labhog-Delta: their count), else the whole board
   * (X-Labhog-Delta: full).
   */
  app.get("/status/live", async (c) => {
    const env = effectiveEnv(c.env as Env);
    const now = Date.now();
    const m = await model(c, env, now - (now % LIVE_CLOCK_MS));
    if (!mayView(env, m.principal)) return c.text("sign in", 401);
    const since = c.req.query("since");
    const seen = since ?? /^(?:W\/)?"([0-9a-f]{40})"$/.exec(c.req.header("if-none-match")?.trim() ?? "")?.[1];
    const notModified = (version: string) => c.body(null, 304, { ...revalidate, etag: `W/"${version}"`, "x-labhog-version": version });
    // Drawn from the same inputs as a board this viewer already shows: nothing to draw (render-memo.ts).
    const input = await inputDigest(m);
    if (seen !== undefined && drawn.get(input) === seen) return notModified(seen);
    const html = (await (<Board m={m} />).toString()) as string;
    const { v, regions } = await boardVersion(html);
    drawn.set(input, v.version);
    const headers = { ...revalidate, etag: `W/"${v.version}"`, "x-labhog-version": v.version };
    if (seen === v.version) return notModified(v.version);
    const changed = since ? versions.changedSince(since, v, regions) : undefined;
    if (changed) return c.html(`<div id="board" data-delta>${changed.map((r) => r.html).join("")}</div>`, 200, { ...headers, "x-labhog-delta": String(changed.length) });
    return c.html(html, 200, { ...headers, "x-labhog-delta": "full" });
  });

  app.post("/status/sign-in", async (c) => {
    const env = effectiveEnv(c.env as Env);
    let form: Record<string, string> = {};
    try {
      form = await formOf(c);
      assertCsrf(c, form);
      const token = (form.token ?? "").trim();
      if (!token) throw new LabhogError("unauthorized", 401, "enter your API token");
      await authenticate(new Headers({ authorization: `Bearer ${token}` }), env, labOf(env));
      setSession(c, token);
      return back(c, "signed-in");
    } catch (e) {
      if (!(e instanceof LabhogError)) throw e;
      return render(c, env, { error: `Sign-in failed: ${e.message}` }, e.status);
    }
  });

  app.post("/status/sign-out", async (c) =>
    act(c, async () => {
      clearSession(c);
      return back(c, "signed-out");
    }),
  );

  app.post("/status/book", async (c) =>
    act(
      c,
      async (env, p, form) => {
        const r = await bookFromForm(env, labOf(env), p, form);
        return back(c, "booked", r);
      },
      (form, error) => ({ resource: form.resource ?? "", values: form, error }),
    ),
  );

  app.post("/status/extend", async (c) =>
    act(c, async (env, p, form) => {
      const r = await extendFromForm(env, labOf(env), p, form);
      return back(c, "extended", r);
    }),
  );

  app.post("/status/release", async (c) =>
    act(c, async (env, p, form) => {
      const r = await releaseFromForm(env, labOf(env), p, form);
      return back(c, "released", r);
    }),
  );
}
