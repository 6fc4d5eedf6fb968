import { createServer, type Server } from "node:http";
import { Webhook } from "standardwebhooks";

/**
 * A webhook receiver on loopback that checks every delivery with the
 * Standard Webhooks reference library (npm `standardwebhooks`), not with our
 * own code: a delivery counts only when that library accepts its signature.
 * `answers` scripts the HTTP status of successive deliveries (then 204).
 */
export interface Received {
  id: string;
  verified: boolean;
  error?: string;
  body: any;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  answers: number[];
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  stop(): Promise<void>;
}

export async function startReceiver(secret: string): Promise<Receiver> {
  const wh = new Webhook(secret);
  const received: Received[] = [];
  const answers: number[] = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (raw += c));
    req.on("end", () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let verified = false;
      let error: string | undefined;
      try {
        wh.verify(raw, headers);
        verified = true;
      } catch (e) {
        error = (e as Error).message;
      }
      let body: any = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // kept as text
      }
      received.push({ id: headers["webhook-id"] ?? "", verified, ...(error ? { error } : {}), body, at: Date.now() });
      res.statusCode = answers.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    answers,
    async waitFor(n, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      while (received.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
      if (received.length < n) throw new Error(`expected ${n} deliveries, got ${received.length}: ${JSON.stringify(received)}`);
      return received;
    },
    stop: () => new Promise((r) => server.close(() => r())),
  };
}

/** A fresh whsec_ secret, as Standard Webhooks serializes one. */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${Buffer.from(bytes).toString("base64")}`;
}
