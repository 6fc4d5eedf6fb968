import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { StandinAuth } from "../google-standin/standin-auth.ts";
import type { GoogleStandin } from "../google-standin/server.ts";

/**
 * STAND-IN for Google Calendar's push-channel endpoints (not Google): the
 * OAuth token endpoint (the shared stand-in's StandinAuth), events.watch and
 * channels.stop as Google documents them, and notify() to POST a change
 * notification to a channel's address with the headers Google sends.
 * With `upstream` (the shared Google stand-in), every other request is
 * proxied there and its tokens are the ones accepted: one API root serves
 * events and channels.
 */
export interface StandinChannel {
  id: string;
  resourceId: string;
  address: string;
  token: string;
  expiration: number;
  calendarId: string;
  stopped: boolean;
}

export interface WatchStandin {
  apiRoot: string;
  tokenUrl: string;
  channels: StandinChannel[];
  /** Longest lifetime granted (Google caps it); default 7 days. */
  maxTtlSeconds: number;
  createServiceAccount(): Promise<Record<string, string>>;
  /** POSTs a notification to the channel's address, or to `deliverTo` (the test's plain-http listener standing behind that https address). */
  notify(channel: StandinChannel, state?: "sync" | "exists" | "not_exists", deliverTo?: string): Promise<Response>;
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

export async function startWatchStandin(upstream?: GoogleStandin): Promise<WatchStandin> {
  let base = "";
  const auth = upstream?.auth ?? new StandinAuth(() => `${base}token`);
  const channels: StandinChannel[] = [];
  const s: WatchStandin = {
    apiRoot: "",
    tokenUrl: "",
    channels,
    maxTtlSeconds: 7 * 86_400,
    createServiceAccount: () => (upstream ? upstream.createServiceAccount() : auth.createServiceAccount()),
    async notify(ch, state = "exists", deliverTo) {
      const n = channels.indexOf(ch) + 1;
      return fetch(deliverTo ?? ch.address, {
        method: "POST",
        headers: {
          "x-goog-channel-id": ch.id,
          "x-goog-channel-token": ch.token,
          "x-goog-channel-expiration": new Date(ch.expiration).toUTCString(),
          "x-goog-resource-id": ch.resourceId,
          "x-goog-resource-uri": `${base}calendar/v3/calendars/${encodeURIComponent(ch.calendarId)}/events?alt=json`,
          "x-goog-resource-state": state,
          "x-goog-message-number": String(n * 1000 + 1),
        },
      });
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", base);
      const send = (status: number, b?: unknown) => {
        res.writeHead(status, b === undefined ? {} : { "content-type": "application/json" });
        res.end(b === undefined ? undefined : JSON.stringify(b));
      };
      const isChannelCall = /\/events\/watch$/.test(url.pathname) || url.pathname === "/calendar/v3/channels/stop";
      if (upstream && !isChannelCall) {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k, v]) => typeof v === "string" && !["host", "content-length", "connection"].includes(k))) as Record<string, string>;
        const up = await fetch(new URL(url.pathname + url.search, upstream.apiRoot), { method: req.method ?? "GET", headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
        const out: Record<string, string> = {};
        up.headers.forEach((v, k) => { if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(k)) out[k] = v; });
        res.writeHead(up.status, out);
        res.end(Buffer.from(await up.arrayBuffer()));
        return;
      }
      if (url.pathname === "/token") {
        const reply = await auth.exchange(new URLSearchParams(await new Promise<string>((r) => { let t = ""; req.on("data", (c) => (t += c)); req.on("end", () => r(t)); })));
        return send(reply.status, reply.body);
      }
      if (!auth.bearerIsValid(req.headers.authorization)) return send(401, { error: { code: 401, message: "Invalid Credentials" } });
      const watch = /^\/calendar\/v3\/calendars\/([^/]+)\/events\/watch$/.exec(url.pathname);
      if (watch && req.method === "POST") {
        const b = await body(req);
        if (b.type !== "web_hook" || typeof b.address !== "string" || typeof b.id !== "string") return send(400, { error: { code: 400, message: "Invalid channel" } });
        // Google delivers only to HTTPS with a valid certificate ("Push notifications" guide); an http address is refused.
        if (!b.address.startsWith("https://")) {
          const message = `WebHook callback must be HTTPS: ${b.address}`;
          return send(400, { error: { code: 400, message, errors: [{ domain: "global", reason: "push.webhookUrlNotHttps", message }] } });
        }
        if (channels.some((c) => c.id === b.id)) return send(400, { error: { code: 400, message: "Channel id not unique" } });
        const ttl = Math.min(Number(b.params?.ttl ?? 604_800), s.maxTtlSeconds);
        const ch: StandinChannel = { id: b.id, resourceId: `res-${crypto.randomUUID()}`, address: b.address, token: b.token ?? "", expiration: Date.now() + ttl * 1000, calendarId: decodeURIComponent(watch[1]!), stopped: false };
        channels.push(ch);
        return send(200, { kind: "api#channel", id: ch.id, resourceId: ch.resourceId, resourceUri: `${base}calendar/v3/calendars/${watch[1]}/events?alt=json`, token: ch.token, expiration: String(ch.expiration) });
      }
      if (url.pathname === "/calendar/v3/channels/stop" && req.method === "POST") {
        const b = await body(req);
        const ch = channels.find((c) => c.id === b.id && c.resourceId === b.resourceId && !c.stopped);
        if (!ch) return send(404, { error: { code: 404, message: "Channel not found" } });
        ch.stopped = true;
        return send(204);
      }
      send(404, { error: { code: 404, message: "Not Found" } });
    })().catch(() => { if (!res.headersSent) { res.writeHead(500); res.end(); } });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  s.apiRoot = base;
  s.tokenUrl = upstream ? upstream.tokenUrl : `${base}token`;
  return s;
}
