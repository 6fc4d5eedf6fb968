/**
 * Real TCP listeners that misbehave the way a wedged calendar server does
 * (Node only: the workerd tests get their URLs from the global setup).
 *  - "silent":  accepts the connection, reads the request, never answers.
 *  - "trickle": answers a 207 status line and headers at once, then one body
 *               byte every `intervalMs`, forever (chunked), so fetch resolves
 *               and only the body read hangs.
 * Counts what it saw, so tests can show the request really got there and
 * that the client closed its connection when it gave up.
 */
import { createServer, type Server, type Socket } from "node:net";

export interface HangingServer {
  url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Requests (first request bytes) received so far. */
  readonly requests: number;
  /** Connections the client has closed so far. */
  readonly closed: number;
  stop(): Promise<void>;
}

export async function startHangingServer(mode: "silent" | "trickle", opts: { intervalMs?: number } = {}): Promise<HangingServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setInterval>>();
  const stats = { accepted: 0, requests: 0, closed: 0 };
  const server: Server = createServer((socket) => {
    stats.accepted++;
    sockets.add(socket);
    let answered = false;
    socket.on("data", () => {
      if (answered) return;
      answered = true;
      stats.requests++;
      if (mode === "silent") return;
      socket.write("HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n");
      socket.write("26\r\n<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n");
      const t = setInterval(() => { if (!socket.destroyed) socket.write("1\r\n \r\n"); }, opts.intervalMs ?? 200);
      timers.add(t);
      socket.once("close", () => { clearInterval(t); timers.delete(t); });
    });
    socket.on("error", () => {});
    socket.once("close", () => { stats.closed++; sockets.delete(socket); });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    get accepted() { return stats.accepted; },
    get requests() { return stats.requests; },
    get closed() { return stats.closed; },
    stop: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
