/**
 * A CalDAV server that stalls, for the deadline tests (Node side, started by
 * global-setup.ts). A TCP front for the real Radicale whose behaviour the
 * workerd test switches over a small HTTP control port:
 *
 * - `pass`: every connection is piped to Radicale;
 * - `hang`: connections are accepted and never answered;
 * - `trickle`: the request is read, then a response head promising a long
 *   body, then one byte a second, forever;
 * - `late`: the request reaches Radicale, its answer is held back `lateMs`
 *   (the server did the write; labhog has stopped waiting).
 *
 * Sockets are real (node:net), so workerd's fetch sees exactly what a
 * misbehaving server would do. The control port also tells how often a text
 * went from labhog to the server (`/count?text=calendar-multiget`, `/clear`):
 * which requests a sync made.
 */
import { createServer as createHttpServer } from "node:http";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";

export type StallMode = "pass" | "hang" | "trickle" | "late";

export async function startStallProxy(upstream: string): Promise<{ url: string; controlUrl: string; stop(): Promise<void> }> {
  const up = new URL(upstream);
  let mode: StallMode = "pass";
  let lateMs = 0;
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
  };
  // What labhog sent since the last /clear, per connection (a request can span several chunks).
  const sent = new Set<{ text: string; open: boolean }>();
  const server = createServer((client) => {
    track(client);
    const rec = { text: "", open: true };
    sent.add(rec);
    client.on("data", (b: Buffer) => {
      if (rec.text.length < 1_000_000) rec.text += b.toString("latin1");
    });
    client.on("close", () => (rec.open = false));
    const m = mode;
    if (m === "hang") return; // accepted, never answered
    if (m === "trickle") {
      client.once("data", () => {
        client.write("HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml\r\nContent-Length: 1000000\r\n\r\n<");
        const t = setInterval(() => (client.destroyed ? clearInterval(t) : client.write(" ")), 1000);
        timers.add(t);
      });
      return;
    }
    const server = connect(Number(up.port), up.hostname);
    track(server);
    client.pipe(server);
    if (m === "pass") server.pipe(client);
    else {
      const held: Buffer[] = [];
      server.on("data", (b: Buffer) => held.push(b));
      const t = setTimeout(() => {
        for (const b of held) client.write(b);
        server.pipe(client);
      }, lateMs);
      timers.add(t as unknown as ReturnType<typeof setInterval>);
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const control = createHttpServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    if (u.pathname === "/count") {
      const text = u.searchParams.get("text") ?? "";
      let n = 0;
      if (text) for (const c of sent) n += c.text.split(text).length - 1;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(n));
      return;
    }
    if (u.pathname === "/clear") {
      for (const c of sent) {
        if (c.open) c.text = "";
        else sent.delete(c);
      }
      res.writeHead(204).end();
      return;
    }
    const m = u.pathname.slice(1) as StallMode;
    if (!["pass", "hang", "trickle", "late"].includes(m)) {
      res.writeHead(404).end();
      return;
    }
    mode = m;
    lateMs = Number(u.searchParams.get("ms") ?? 0);
    // A mode change applies to new connections: drop the old ones (workerd keeps connections alive).
    for (const s of sockets) s.destroy();
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => control.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    controlUrl: `http://127.0.0.1:${(control.address() as AddressInfo).port}/`,
    async stop() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => control.close(r))]);
    },
  };
}
