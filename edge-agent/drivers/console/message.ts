import { CompactSign, compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";
import { z } from "zod";
import { own } from "../../../calendar/config/own.ts";

/**
 * The console's MQTT protocol, shared by the Worker (signs) and the agent
 * (verifies). Imports only jose and zod, so both bundles can take it.
 *
 * Topics under `<prefix>/resources/<resource>/console/`:
 *   in          Worker → agent: a compact JWS (Ed25519, the schedule signing
 *               key) over a {@link ConsoleInput}. Anyone may be able to
 *               publish on the broker; the agent acts only on what verifies.
 *   out         agent → Worker: JSON {@link ConsoleOutput}, QoS 0.
 *   state       agent → Worker, retained: {@link ConsoleState} (whether this
 *               resource has a console at all).
 *   log/<req>   agent → Worker: JSON {@link ConsoleLogReply}, the answer to
 *               an input of type `log` with that `req`.
 */
export const consoleTopics = (prefix: string, resource: string) => {
  const base = `${prefix}/resources/${resource}/console`;
  return { in: `${base}/in`, out: `${base}/out`, state: `${base}/state`, log: (req: string) => `${base}/log/${req}`, anyLog: `${base}/log/+` };
};

export const CONSOLE_JWS_TYP = "labhog-console+jws";

/** At most this far apart may the Worker's seq clock and the agent's clock be (replays after an agent restart). */
export const SEQ_WINDOW_MS = 5 * 60_000;

export const consoleInputSchema = z.strictObject({
  v: z.literal(1),
  resource: z.string().min(1).max(128),
  /** The schedule entry id (the event id, as in the signed schedule; not the API's `<resource>:<id>`). */
  reservation: z.string().min(1).max(1024),
  /** One WebSocket session: `open` makes it the writer, other sessions' data is dropped. */
  session: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
  /** Microseconds of the Worker's clock, strictly rising: the agent refuses anything not above the last. */
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  type: z.enum(["open", "data", "close", "log"]),
  /** `data`: the bytes, base64. */
  data: z.string().max(64 * 1024).optional(),
  /** `log`: the reply goes to console/log/<req>. */
  req: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/).optional(),
});
export type ConsoleInput = z.infer<typeof consoleInputSchema>;

export interface ConsoleOutput {
  reservation: string;
  /** Bytes from the board, base64. */
  data?: string;
  /** The agent no longer serves this reservation's console (booking over): close its sessions. */
  ended?: true;
}

export interface ConsoleState {
  available: boolean;
  agent: string;
}

export interface ConsoleLogReply {
  req: string;
  reservation: string;
  found: boolean;
  /** The log text (see log.ts for its format). */
  log?: string;
  truncated?: boolean;
}

export type ConsoleRejection = "malformed" | "unknown-key" | "bad-signature" | "invalid-payload" | "wrong-resource" | "replayed" | "stale";

export class ConsoleRejectedError extends Error {
  constructor(readonly reason: ConsoleRejection, message: string) {
    super(message);
    this.name = "ConsoleRejectedError";
  }
}

/** Next seq: the clock in microseconds, never below the last + 1 (so a burst within one millisecond still rises). */
export function nextConsoleSeq(last: number, nowMs: number): number {
  return Math.max(last + 1, Math.floor(nowMs) * 1000);
}

export async function signConsoleInput(input: ConsoleInput, key: { kid: string; jwk: JWK }, imported?: CryptoKey | Uint8Array): Promise<string> {
  const k = imported ?? (await importJWK(key.jwk, "EdDSA"));
  return new CompactSign(new TextEncoder().encode(JSON.stringify(consoleInputSchema.parse(input))))
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: CONSOLE_JWS_TYP })
    .sign(k);
}

const keyCache = new WeakMap<JWK, Promise<CryptoKey | Uint8Array>>();
const importedKey = (jwk: JWK) => {
  let k = keyCache.get(jwk);
  if (!k) keyCache.set(jwk, (k = importJWK(jwk, "EdDSA")));
  return k;
};

/**
 * Verifies one console input: trusted key, signature, the `typ` (a schedule
 * JWS is not a console input), the resource of the topic, a seq above the
 * last one accepted and within {@link SEQ_WINDOW_MS} of the local clock.
 * Whether the reservation is the active one is the caller's check.
 */
export async function verifyConsoleInput(jws: string, o: { keys: Record<string, JWK>; resource: string; lastSeq: number; now?: number }): Promise<ConsoleInput> {
  let kid: string | undefined;
  try {
    const h = decodeProtectedHeader(jws);
    if (h.alg !== "EdDSA" || h.typ !== CONSOLE_JWS_TYP) throw new Error(`alg ${String(h.alg)}, typ ${String(h.typ)}`);
    kid = h.kid;
  } catch (e) {
    throw new ConsoleRejectedError("malformed", `not a labhog console JWS: ${(e as Error).message}`);
  }
  const jwk = kid === undefined ? undefined : own(o.keys, kid);
  if (!jwk) throw new ConsoleRejectedError("unknown-key", `console input signed with unknown key ${kid ?? "(none)"}`);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, await importedKey(jwk), { algorithms: ["EdDSA"] }));
  } catch (e) {
    throw new ConsoleRejectedError("bad-signature", `console signature does not verify: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw new ConsoleRejectedError("invalid-payload", "console payload is not JSON");
  }
  const r = consoleInputSchema.safeParse(data);
  if (!r.success) throw new ConsoleRejectedError("invalid-payload", `console payload invalid: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const m = r.data;
  if (m.resource !== o.resource) throw new ConsoleRejectedError("wrong-resource", `console input for ${m.resource} on ${o.resource}'s topic`);
  if (m.seq <= o.lastSeq) throw new ConsoleRejectedError("replayed", `console seq ${m.seq} is not above ${o.lastSeq}`);
  const now = o.now ?? Date.now();
  if (Math.abs(m.seq / 1000 - now) > SEQ_WINDOW_MS) throw new ConsoleRejectedError("stale", `console seq ${m.seq} is more than ${SEQ_WINDOW_MS / 60_000} min from this clock`);
  return m;
}

export const toBase64 = (b: Uint8Array): string => {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
};

export const fromBase64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
