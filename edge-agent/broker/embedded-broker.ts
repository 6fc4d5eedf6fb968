import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { Aedes } from "aedes";
import { WebSocketServer, createWebSocketStream } from "ws";
import type { Logger } from "../log.ts";
import { own } from "../../calendar/config/own.ts";

/**
 * The embedded default's MQTT broker (aedes): a TCP listener for agents and a
 * WebSocket listener for the Worker, which can only speak MQTT over WebSocket.
 * Production uses a real broker (Mosquitto, EMQX, HiveMQ) with per-agent ACLs.
 */
export interface EmbeddedBrokerOptions {
  host?: string;
  /** 0 = any free port. */
  port?: number;
  wsPort?: number;
  /** When set, clients must present one of these username/password pairs. */
  users?: Record<string, string>;
  log?: Logger;
}

export interface EmbeddedBroker {
  url: string;
  wsUrl: string;
  port: number;
  wsPort: number;
  close(): Promise<void>;
}

function listen(server: TcpServer | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const a = server.address();
      resolve(typeof a === "object" && a ? a.port : port);
    });
  });
}

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const host = opts.host ?? "127.0.0.1";
  const broker = await Aedes.createBroker({
    authenticate: (_client, username, password, done) => {
      if (!opts.users) return done(null, true);
      // Usernames come off the wire: only the configured ones count (not `constructor` or `toString`).
      const expected = username === undefined ? undefined : own(opts.users, username);
      const ok = expected !== undefined && password?.toString() === expected;
      if (!ok) opts.log?.warn("mqtt login refused", { username });
      done(null, ok);
    },
  });
  broker.on("clientError", (client, err) => opts.log?.debug("mqtt client error", { client: client.id, error: err.message }));

  // As Mosquitto's set_tcp_nodelay (docs/deployment.md): with Nagle on, an event that follows another within ~40 ms
  // waits for the subscriber's delayed ACK. (node:http already sets it for the WebSocket listener.)
  const tcp = createTcpServer({ noDelay: true }, broker.handle);
  const http = createHttpServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("MQTT over WebSocket only\n");
  });
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (socket, req) => {
    broker.handle(createWebSocketStream(socket), req);
  });

  const port = await listen(tcp, opts.port ?? 0, host);
  const wsPort = await listen(http, opts.wsPort ?? 0, host);
  opts.log?.info("embedded MQTT broker listening", { port, wsPort });
  return {
    url: `mqtt://${host}:${port}`,
    wsUrl: `ws://${host}:${wsPort}`,
    port,
    wsPort,
    async close() {
      for (const c of wss.clients) c.terminate();
      await Promise.all([
        new Promise<void>((r) => wss.close(() => r())),
        new Promise<void>((r) => http.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
        new Promise<void>((r) => broker.close(() => r())),
      ]);
    },
  };
}
