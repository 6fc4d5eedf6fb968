import type { WatchChannel, WatchRequest } from "../../calendar/backends/google/index.ts";
import { ValidationError } from "../../calendar/errors.ts";
import { log as workerLog, type Logger } from "../log.ts";
import { channelToken } from "./secrets.ts";

/**
 * Keeps one Google push channel per google-backed resource alive. Google
 * channels cannot be renewed: a new one is opened when the old one is within
 * RENEW_BEFORE of expiring (or points at another address), then the old one
 * is stopped. The ledger runs this from its alarm, so a missed renewal is
 * retried at the next alarm; periodic sync covers any gap meanwhile.
 */
export interface StoredChannel extends WatchChannel {
  address: string;
}

export interface Watchable {
  watch(o: WatchRequest): Promise<WatchChannel>;
  stopWatch(id: string, resourceId: string): Promise<void>;
}

export const GOOGLE_PUSH_PATH = "/push/google";
/** Requested lifetime (Google's default maximum for events is about a week). */
export const CHANNEL_TTL_S = 7 * 86_400;
export const RENEW_BEFORE_MS = 24 * 3_600_000;

export function needsRenewal(stored: StoredChannel | undefined, address: string, now: number, renewBeforeMs = RENEW_BEFORE_MS): boolean {
  return !stored || stored.address !== address || stored.expiration - now < renewBeforeMs;
}

/** Opens a channel when there is none or it is about to expire; returns what to store (unchanged when nothing was due). */
export async function ensureChannel(o: {
  backend: Watchable;
  resource: string;
  secret: string;
  publicUrl: string;
  stored: StoredChannel | undefined;
  now: number;
  log: Logger;
  ttlSeconds?: number;
  renewBeforeMs?: number;
}): Promise<StoredChannel | undefined> {
  const address = new URL(GOOGLE_PUSH_PATH, o.publicUrl).toString();
  if (!address.startsWith("https://")) throw new ValidationError(NOT_HTTPS(o.publicUrl));
  if (!needsRenewal(o.stored, address, o.now, o.renewBeforeMs)) return o.stored;
  const id = crypto.randomUUID();
  const ch = await o.backend.watch({ id, address, token: await channelToken(o.secret, o.resource, id), ttlSeconds: o.ttlSeconds ?? CHANNEL_TTL_S });
  o.log.info(o.stored ? "google channel renewed" : "google channel opened", { channel: ch.id, expiration: new Date(ch.expiration).toISOString() });
  if (o.stored) {
    await o.backend.stopWatch(o.stored.id, o.stored.resourceId).catch((e) => o.log.warn("could not stop the old google channel", { channel: o.stored!.id, error: e }));
  }
  return { ...ch, address };
}

/** When the ledger's alarm must run again for the channel's sake. */
export function renewalDue(stored: StoredChannel | undefined, renewBeforeMs = RENEW_BEFORE_MS): number | undefined {
  return stored ? stored.expiration - renewBeforeMs : undefined;
}

/**
 * Google delivers push notifications to HTTPS addresses only ("Push
 * notifications" guide: a valid SSL certificate is required; events.watch
 * refuses an http address with 400 push.webhookUrlNotHttps). Asking anyway
 * fails the same way on every alarm, so such a PUBLIC_URL switches push off
 * with this message instead.
 */
export const NOT_HTTPS = (publicUrl: string) =>
  `google push is off: PUBLIC_URL ${JSON.stringify(publicUrl)} is not https; Google delivers notifications only to HTTPS addresses with a valid certificate (periodic sync still runs)`;

const warned = new Set<string>();

/** Google push is on when the Worker has the channel secret and knows its public https origin. */
export function googlePushConfig(env: Record<string, unknown>, log: Logger = workerLog): { secret: string; publicUrl: string } | undefined {
  const secret = env.GOOGLE_PUSH_SECRET;
  const publicUrl = env.PUBLIC_URL;
  if (typeof secret !== "string" || secret.length < 16 || typeof publicUrl !== "string" || !/^https?:\/\//.test(publicUrl)) return undefined;
  if (!/^https:\/\//i.test(publicUrl)) {
    // Once per isolate and URL: the ledgers' alarms ask every minute.
    if (!warned.has(publicUrl)) {
      warned.add(publicUrl);
      log.warn(NOT_HTTPS(publicUrl), { publicUrl });
    }
    return undefined;
  }
  return { secret, publicUrl };
}

export function isWatchable(backend: unknown): backend is Watchable {
  const b = backend as Partial<Watchable> | null;
  return !!b && typeof b.watch === "function" && typeof b.stopWatch === "function";
}
