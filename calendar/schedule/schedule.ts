import { CompactSign, compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";
import { z } from "zod";
import { own } from "../config/own.ts";

/**
 * The signed schedule an agent enforces for one resource (design: "Schedule message").
 * A compact JWS, EdDSA over Ed25519, `kid` naming the key.
 */

const unixLogin = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "not a valid unix login");
const sshKey = z.string().max(16_384).regex(/^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+ [A-Za-z0-9+/=]+( [^\r\n]*)?$/, "not an OpenSSH public key line");
const imageRef = z.string().max(4096).regex(/^[A-Za-z0-9._~:/+@%=-]+$/, "image reference has characters that are not allowed");
const modeName = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, "not a valid mode name");

/**
 * Forward compatibility: under `v: 1` a newer Worker may add fields an agent
 * can do without (notices were one); an agent ignores fields it doesn't know
 * (z.object strips them) instead of refusing the whole schedule and falling
 * back to the last one. A change in what must be enforced bumps `v`, which
 * agents refuse when they don't know it. Everything is inside the signature
 * either way.
 */
export const scheduleEntrySchema = z.object({
  id: z.string().min(1).max(1024),
  holder: z.object({
    id: z.string().min(1).max(256),
    unix: z.array(unixLogin).max(16),
    keys: z.array(sshKey).max(64),
  }),
  start: z.iso.datetime({ offset: true }),
  end: z.iso.datetime({ offset: true }),
  exclusive: z.boolean(),
  mode: modeName.optional(),
  image: imageRef.optional(),
});

/**
 * A notice for the people on the host (worker/notices): shown in the motd,
 * sent by wall and tmux once, dropped at `until`. Inside the signed payload,
 * so an agent never shows a notice nobody signed. Text the agent shows is
 * printable only: the Worker refuses control characters, the agent strips them.
 */
export const scheduleNoticeSchema = z.object({
  id: z.string().min(1).max(64),
  text: z.string().min(1).max(500),
  until: z.iso.datetime({ offset: true }),
  by: z.string().min(1).max(256),
});

export const scheduleSchema = z.object({
  v: z.literal(1),
  resource: z.string().min(1).max(128),
  seq: z.number().int().nonnegative(),
  issuedAt: z.iso.datetime({ offset: true }),
  validUntil: z.iso.datetime({ offset: true }),
  entries: z.array(scheduleEntrySchema).max(10_000),
  /** Optional and only present when there are notices: a schedule without notices is byte-for-byte what older Workers signed. */
  notices: z.array(scheduleNoticeSchema).max(50).optional(),
});

export type ScheduleEntry = z.infer<typeof scheduleEntrySchema>;
export type Schedule = z.infer<typeof scheduleSchema>;
export type ScheduleNotice = z.infer<typeof scheduleNoticeSchema>;

export type ScheduleRejection =
  | "malformed"
  | "unknown-key"
  | "bad-signature"
  | "invalid-payload"
  | "wrong-resource"
  | "replayed"
  | "expired";

export class ScheduleRejectedError extends Error {
  constructor(readonly reason: ScheduleRejection, message: string) {
    super(message);
    this.name = "ScheduleRejectedError";
  }
}

export interface SigningKey {
  kid: string;
  /** Private Ed25519 JWK (kty OKP, crv Ed25519, with d). */
  jwk: JWK;
}

/**
 * Imported keys per JWK object: importing costs more than signing or verifying, and a Worker signs (an agent
 * verifies) with the same few keys for its whole life.
 */
const imported = new WeakMap<JWK, ReturnType<typeof importJWK>>();

function importedKey(jwk: JWK): ReturnType<typeof importJWK> {
  let pending = imported.get(jwk);
  if (!pending) imported.set(jwk, (pending = importJWK(jwk, "EdDSA")));
  return pending.catch((e: unknown) => {
    imported.delete(jwk); // a bad key fails every time, but never stays cached as a failure
    throw e;
  });
}

export async function signSchedule(schedule: Schedule, key: SigningKey): Promise<string> {
  const parsed = scheduleSchema.parse(schedule);
  const k = await importedKey(key.jwk);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(parsed)))
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: "labhog-schedule+jws" })
    .sign(k);
}

export interface VerifyOptions {
  /** Public JWKs by kid. */
  keys: Record<string, JWK>;
  /** The resources this agent serves. */
  resources: ReadonlySet<string> | readonly string[];
  /** Last accepted seq per resource. */
  lastSeq?: (resource: string) => number | undefined;
  now?: Date;
}

/** Verifies signature, payload, resource and freshness; throws ScheduleRejectedError. */
export async function verifySchedule(jws: string, opts: VerifyOptions): Promise<Schedule> {
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(jws);
    if (header.alg !== "EdDSA") throw new Error(`alg ${String(header.alg)}`);
    kid = header.kid;
  } catch (e) {
    throw new ScheduleRejectedError("malformed", `not a labhog schedule JWS: ${(e as Error).message}`);
  }
  const jwk = kid === undefined ? undefined : own(opts.keys, kid);
  if (!jwk) throw new ScheduleRejectedError("unknown-key", `schedule signed with unknown key ${kid ?? "(none)"}`);
  let payload: Uint8Array;
  try {
    const key = await importedKey(jwk);
    ({ payload } = await compactVerify(jws, key, { algorithms: ["EdDSA"] }));
  } catch (e) {
    throw new ScheduleRejectedError("bad-signature", `schedule signature does not verify: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw new ScheduleRejectedError("invalid-payload", "schedule payload is not JSON");
  }
  const res = scheduleSchema.safeParse(data);
  if (!res.success) throw new ScheduleRejectedError("invalid-payload", `schedule payload invalid: ${res.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const s = res.data;
  const served = Array.isArray(opts.resources) ? new Set(opts.resources) : (opts.resources as ReadonlySet<string>);
  if (!served.has(s.resource)) throw new ScheduleRejectedError("wrong-resource", `schedule for ${s.resource}, which this agent does not serve`);
  const last = opts.lastSeq?.(s.resource);
  if (last !== undefined && s.seq <= last) throw new ScheduleRejectedError("replayed", `schedule seq ${s.seq} is not newer than ${last}`);
  const now = opts.now ?? new Date();
  if (Date.parse(s.validUntil) <= now.getTime()) throw new ScheduleRejectedError("expired", `schedule expired at ${s.validUntil}`);
  return s;
}

/** Generates an Ed25519 key pair as JWKs (for `labhog keygen`, demo and tests). */
export async function generateSigningKey(kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const privateJwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JWK;
  const publicJwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JWK;
  return { privateJwk: { ...privateJwk, kid }, publicJwk: { ...publicJwk, kid } };
}
