import type { Context, Hono } from "hono";
// As text (wrangler.toml [[rules]] type = "Text", which applies to relative imports only), served below:
// the browser runs them, the Worker never does.
import xtermCss from "../../node_modules/@xterm/xterm/css/xterm.css";
import xtermJs from "../../node_modules/@xterm/xterm/lib/xterm.js";
import { LabhogError } from "../../calendar/errors.ts";
import { effectiveEnv, type Env } from "../env.ts";
import { labOf } from "../lab.ts";
import { principalOf } from "../ui/session.ts";
import { nonceOf } from "../ui/security-headers.ts";
import { decideSession, wantsWatch } from "./register.ts";

/**
 * The status page's console panel: `/status/console/<resource>`, a terminal
 * in the browser (xterm.js, served from the Worker's bundle) on the same
 * WebSocket as `labhog console` (`/console/<resource>`, authenticated by
 * the sign-in cookie). Under /status, so the page gets the status page's
 * CSP: scripts and styles only with this response's nonce, connections only
 * to this origin.
 */
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const assetHeaders = (type: string) => ({ "content-type": `${type}; charset=utf-8`, "cache-control": "public, max-age=86400" });

export function registerConsolePage(app: Hono<any>): void {
  app.get("/status/console/xterm.js", (c) => c.body(xtermJs, 200, assetHeaders("text/javascript")));
  app.get("/status/console/xterm.css", (c) => c.body(xtermCss, 200, assetHeaders("text/css")));
  app.get("/status/console/:id", async (c) => {
    const env = effectiveEnv(c.env as Env);
    const lab = labOf(env);
    const resource = c.req.param("id");
    const watch = wantsWatch(c.req.query("watch"));
    const { principal, problem } = await principalOf(c, env, lab);
    if (!principal) return page(c, resource, { error: problem ?? "Sign in on the status page first." }, 401);
    try {
      const s = await decideSession(env, lab, principal, resource, watch);
      return page(c, resource, { mode: s.mode, until: new Date(s.end).toISOString() });
    } catch (e) {
      if (e instanceof LabhogError) return page(c, resource, { error: e.message }, e.status);
      throw e;
    }
  });
}

function page(c: Context, resource: string, o: { error?: string; mode?: "write" | "watch"; until?: string }, status = 200): Response {
  const nonce = nonceOf(c);
  const r = esc(resource);
  const body = o.error
    ? `<p class="err" role="alert">${esc(o.error)}</p>`
    : `<div id="term" data-resource="${r}" data-watch="${o.mode === "watch" ? "1" : ""}" aria-label="${r} serial console"></div>
<script nonce="${nonce}" src="/status/console/xterm.js"></script>
<script nonce="${nonce}">${CLIENT}</script>`;
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${r} console · labhog</title>
<link rel="stylesheet" nonce="${nonce}" href="/status/console/xterm.css">
<style nonce="${nonce}">
body{margin:0;background:#111;color:#ddd;font:14px system-ui,sans-serif;display:flex;flex-direction:column;height:100vh}
header{padding:6px 10px;display:flex;gap:12px;align-items:baseline;border-bottom:1px solid #333}
header a{color:#8cf}#state{color:#aaa}.err{padding:20px;color:#f88}
#term{flex:1;padding:4px;min-height:0}
</style></head><body>
<header><a href="/status#r-${r}">← status</a><strong>${r}</strong><span>serial console${o.mode === "watch" ? " (watching, read-only)" : ""}${o.until ? ` until <time datetime="${esc(o.until)}">${esc(o.until.slice(11, 16))} UTC</time>` : ""}</span><span id="state" role="status">${o.error ? "" : "connecting…"}</span></header>
${body}
</body></html>`;
  return c.html(html, status as 200, { "cache-control": "no-store" });
}

/**
 * The page's script. xterm.js adds <style> elements of its own; the CSP
 * allows styles only with this page's nonce, so elements it creates get it.
 */
const CLIENT = `(() => {
  const nonce = document.currentScript.nonce;
  const make = document.createElement.bind(document);
  document.createElement = (tag, opts) => { const el = make(tag, opts); if (String(tag).toLowerCase() === "style") el.nonce = nonce; return el; };
  const box = document.getElementById("term");
  const state = document.getElementById("state");
  const resource = box.dataset.resource;
  const watch = box.dataset.watch === "1";
  const term = new Terminal({ cursorBlink: !watch, disableStdin: watch, scrollback: 5000, fontSize: 14, fontFamily: "ui-monospace, monospace" });
  term.open(box);
  const fit = () => {
    const core = box.querySelector(".xterm-rows > div");
    const h = core ? core.getBoundingClientRect().height : 17;
    const w = (term.element.querySelector(".xterm-char-measure-element") || {}).getBoundingClientRect?.().width / 32 || 8.4;
    term.resize(Math.max(20, Math.floor(box.clientWidth / w)), Math.max(5, Math.floor(box.clientHeight / (h || 17))));
  };
  fit();
  addEventListener("resize", fit);
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console/" + encodeURIComponent(resource) + (watch ? "?watch=1" : ""));
  ws.binaryType = "arraybuffer";
  const enc = new TextEncoder();
  ws.onopen = () => { state.textContent = watch ? "watching" : "connected"; term.focus(); };
  ws.onmessage = (e) => term.write(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
  ws.onclose = (e) => {
    term.options.disableStdin = true;
    state.textContent = e.code === 4000 ? "the booking ended" : e.code === 4001 ? "another session took the console" : e.code === 1000 ? "closed" : "disconnected (" + e.code + "): reload to reconnect";
    document.body.dataset.closed = String(e.code);
  };
  if (!watch) term.onData((d) => { if (ws.readyState === 1) ws.send(enc.encode(d)); });
  window.labhogConsole = { term, ws };
})();`;
