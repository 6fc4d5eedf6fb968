import { createServer, type Server } from "node:http";
import { Webhook } from "standardwebhooks";

/**
 * A webhook receiver for the tests inside workerd (which can't listen
 * themselves), started by the global setup. Every delivery is checked with
 * the Standard Webhooks reference library (npm `standardwebhooks`), not with
 * our code. Each test posts to its own `/hook/<name>`:
 *   POST /hook/<name>          a delivery (answered 204, or the next scripted status)
 *   GET  /deliveries/<name>    what arrived there: [{id, verified, error?, body, at}]
 *   POST /script/<name>        [503, 500, …]: the statuses of the next deliveries
 */
export async function startReceiverService(secret: string): Promise<{ url: string; stop(): Promise<void> }> {
  const wh = new Webhook(secret);
  const got = new Map<string, unknown[]>();
  const scripts = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (raw += c));
    req.on("end", () => {
      const [, kind, name] = (req.url ?? "").split("/");
      if (!name) return void res.writeHead(404).end();
      if (req.method === "GET" && kind === "deliveries") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(got.get(name) ?? []));
      if (req.method === "POST" && kind === "script") {
        scripts.set(name, JSON.parse(raw) as number[]);
        return void res.writeHead(204).end();
      }
      if (req.method !== "POST" || kind !== "hook") return void res.writeHead(404).end();
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      let verified = false;
      let error: string | undefined;
      try {
        wh.verify(raw, headers);
        verified = true;
      } catch (e) {
        error = (e as Error).message;
      }
      let body: unknown = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // kept as text
      }
      got.set(name, [...(got.get(name) ?? []), { id: headers["webhook-id"], verified, ...(error ? { error } : {}), body, at: Date.now() }]);
      res.writeHead(scripts.get(name)?.shift() ?? 204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, stop: () => new Promise((r) => server.close(() => r())) };
}
