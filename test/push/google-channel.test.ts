import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGoogleBackend } from "../../calendar/backends/google/index.ts";
import { ensureChannel, googlePushConfig, needsRenewal, RENEW_BEFORE_MS, type StoredChannel } from "../../worker/push/google-channel.ts";
import { ValidationError } from "../../calendar/errors.ts";
import { verifyChannelToken } from "../../worker/push/secrets.ts";
import { createLogger } from "../../worker/log.ts";
import { startWatchStandin, type WatchStandin } from "./watch-standin.ts";

/** Google push channels: created with events.watch, token bound to the channel, replaced before they expire (stand-in for Google). */
const SECRET = "google-channel-secret-0123456789";
let g: WatchStandin;
let backend: ReturnType<typeof createGoogleBackend>;
const log = createLogger({ test: "google-channel" });

beforeAll(async () => {
  g = await startWatchStandin();
  backend = createGoogleBackend({ calendarId: "lab-board@group.calendar.standin", credentials: JSON.stringify(await g.createServiceAccount()), apiRoot: g.apiRoot, tokenUrl: g.tokenUrl, retry: { attempts: 1 } });
});
afterAll(async () => g?.close());

describe("google watch channels", () => {
  it("opens a channel whose token names the resource and verifies only for that channel", async () => {
    const stored = await ensureChannel({ backend, resource: "board1", secret: SECRET, publicUrl: "https://lab.example.org/", stored: undefined, now: Date.now(), log });
    expect(stored).toBeDefined();
    const ch = g.channels.find((c) => c.id === stored!.id)!;
    expect(ch).toMatchObject({ address: "https://lab.example.org/push/google", calendarId: "lab-board@group.calendar.standin", stopped: false });
    expect(stored!.expiration).toBe(ch.expiration);
    expect(await verifyChannelToken(SECRET, ch.token, ch.id)).toBe("board1");
    expect(await verifyChannelToken(SECRET, ch.token, crypto.randomUUID())).toBeUndefined();
    expect(await verifyChannelToken("other-secret-0123456789", ch.token, ch.id)).toBeUndefined();
  });

  it("keeps a fresh channel, replaces one about to expire and stops the old one", async () => {
    g.maxTtlSeconds = 3 * 86_400;
    const first = (await ensureChannel({ backend, resource: "board2", secret: SECRET, publicUrl: "https://lab.example.org", stored: undefined, now: Date.now(), log }))!;
    const same = await ensureChannel({ backend, resource: "board2", secret: SECRET, publicUrl: "https://lab.example.org", stored: first, now: Date.now(), log });
    expect(same).toBe(first);
    // A day before expiry (Google granted 3 days): replaced.
    const later = first.expiration - RENEW_BEFORE_MS + 1000;
    expect(needsRenewal(first, first.address, later)).toBe(true);
    const second = (await ensureChannel({ backend, resource: "board2", secret: SECRET, publicUrl: "https://lab.example.org", stored: first, now: later, log }))!;
    expect(second.id).not.toBe(first.id);
    expect(g.channels.find((c) => c.id === first.id)!.stopped).toBe(true);
    expect(g.channels.find((c) => c.id === second.id)!.stopped).toBe(false);
    // A new public URL: replaced at once.
    const moved = (await ensureChannel({ backend, resource: "board2", secret: SECRET, publicUrl: "https://new.example.org", stored: second, now: Date.now(), log })) as StoredChannel;
    expect(moved.address).toBe("https://new.example.org/push/google");
    expect(g.channels.find((c) => c.id === second.id)!.stopped).toBe(true);
  });

  it("notifications carry the headers the push endpoint checks", async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const sink = createServer((req, res) => {
      seen.push(req.headers);
      res.end();
    });
    await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/push/google`;
    const stored = (await ensureChannel({ backend, resource: "board3", secret: SECRET, publicUrl: "https://lab.example.org/", stored: undefined, now: Date.now(), log }))!;
    // The https address terminates at the test's plain listener.
    await g.notify(g.channels.find((c) => c.id === stored.id)!, "exists", url);
    sink.close();
    expect(seen[0]).toMatchObject({ "x-goog-channel-id": stored.id, "x-goog-resource-state": "exists", "x-goog-resource-id": stored.resourceId });
    expect(await verifyChannelToken(SECRET, String(seen[0]!["x-goog-channel-token"]), stored.id)).toBe("board3");
  });

  it("refuses a non-https PUBLIC_URL with a clear message instead of asking Google (which refuses it) on every alarm", async () => {
    // The stand-in refuses it like Google: 400 push.webhookUrlNotHttps.
    await expect(backend.watch({ id: crypto.randomUUID(), address: "http://lab.example.org/push/google", token: "t" })).rejects.toThrow(/HTTPS/);
    const before = g.channels.length;
    const e = await ensureChannel({ backend, resource: "board4", secret: SECRET, publicUrl: "http://lab.example.org/", stored: undefined, now: Date.now(), log }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as Error).message).toMatch(/PUBLIC_URL "http:\/\/lab.example.org\/" is not https/);
    expect(g.channels.length).toBe(before);
    // Push is simply off for such a URL, said once however often the alarms ask.
    const warnings: string[] = [];
    const capture = { ...log, warn: (msg: string) => void warnings.push(msg) } as typeof log;
    const env = { GOOGLE_PUSH_SECRET: SECRET, PUBLIC_URL: "http://labhog.internal:8787/" };
    for (let i = 0; i < 3; i++) expect(googlePushConfig(env, capture)).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/not https.*periodic sync still runs/);
    expect(googlePushConfig({ ...env, PUBLIC_URL: "https://lab.example.org/" }, capture)).toEqual({ secret: SECRET, publicUrl: "https://lab.example.org/" });
  });
});
