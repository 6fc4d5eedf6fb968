/**
 * Node-side helpers for the workerd tests, started by global-setup.ts:
 *
 * - an MQTT tap: a real MQTT.js client (Node build, TCP) that reads retained
 *   messages and publishes as an agent would, over a small HTTP interface;
 *   it can also restart the broker (fault tests).
 *   The workerd tests can't run a second MQTT.js client themselves: the
 *   browser bundle's process.nextTick polyfill is one queue per isolate, and
 *   the Broker Durable Object shares the isolate with the test runner
 *   ("Cannot perform I/O on behalf of a different Durable Object").
 * - an OIDC issuer STAND-IN: discovery document, JWKS, and a token endpoint
 *   that signs whatever claims the test asks for (RS256). Also serves the
 *   Cloudflare Access certs path.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import mqtt from "mqtt";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { startMosquitto } from "../services/mosquitto.ts";

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startMqttTap(brokers: Record<string, { url: string; restart?: () => Promise<void> }>): Promise<{ url: string; stop(): Promise<void> }> {
  const publisher = await mqtt.connectAsync(brokers.main!.url, { clientId: `tap-pub-${process.pid}`, reconnectPeriod: 500 });
  const server = createServer(async (req, res) => {
    try {
      const u = new URL(req.url ?? "/", "http://x");
      if (req.method === "POST" && u.pathname === "/publish") {
        const { topic, payload, retain } = JSON.parse(await body(req)) as { topic: string; payload: string; retain?: boolean };
        await publisher.publishAsync(topic, payload, { qos: 1, retain: retain ?? true });
        res.writeHead(204).end();
        return;
      }
      const broker = brokers[u.searchParams.get("broker") ?? "main"];
      if (!broker) {
        res.writeHead(404).end();
        return;
      }
      const mqttUrl = broker.url;
      if (req.method === "POST" && u.pathname === "/restart-broker" && broker.restart) {
        // Fault injection: the broker goes away and comes back on the same ports.
        await broker.restart();
        res.writeHead(204).end();
        return;
      }
      if (req.method === "GET" && u.pathname === "/retained") {
        const topic = u.searchParams.get("topic") ?? "";
        const wait = Math.min(Number(u.searchParams.get("wait") ?? 1000), 10_000);
        // A fresh subscription gets exactly the retained message, if there is one.
        const c = await mqtt.connectAsync(mqttUrl, { clientId: `tap-${Math.random().toString(16).slice(2, 10)}` });
        const got = await new Promise<{ payload: string; retained: boolean } | undefined>((resolve) => {
          const t = setTimeout(() => resolve(undefined), wait);
          c.on("message", (_t, p, packet) => {
            clearTimeout(t);
            resolve({ payload: p.toString("utf8"), retained: packet.retain });
          });
          c.subscribe(topic, { qos: 1 });
        });
        await c.endAsync(true);
        if (!got) res.writeHead(204).end();
        else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(got));
        return;
      }
      res.writeHead(404).end();
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  const url = await listen(server);
  return {
    url,
    async stop() {
      await publisher.endAsync(true);
      await new Promise((r) => server.close(r));
    },
  };
}

export async function startOidcStandIn(): Promise<{ issuer: string; stop(): Promise<void> }> {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "stand-in-1", alg: "RS256", use: "sig" };
  let issuer = "";
  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    const json = (v: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(v));
    if (u.pathname === "/.well-known/openid-configuration") return json({ issuer, jwks_uri: `${issuer}/jwks.json` });
    if (u.pathname === "/jwks.json" || u.pathname === "/cdn-cgi/access/certs") return json({ keys: [jwk] });
    if (req.method === "POST" && u.pathname === "/token") {
      const { claims, audience, expiresIn, kid } = JSON.parse(await body(req)) as { claims: Record<string, unknown>; audience: string; expiresIn?: string; kid?: string };
      const jwt = await new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: kid ?? jwk.kid })
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(expiresIn ?? "5m")
        .sign(privateKey);
      return json({ token: jwt });
    }
    res.writeHead(404).end();
  });
  issuer = await listen(server);
  return { issuer, stop: () => new Promise((r) => server.close(() => r())) };
}

/** A Mosquitto that insists on a username and password (WebSocket listener). */
export async function startAuthMosquitto(username: string, password: string): Promise<{ wsUrl: string; stop(): Promise<void> }> {
  return startMosquitto({ passwords: { [username]: password } });
}
