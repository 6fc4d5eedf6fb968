import type { JWK } from "jose";
import type { SigningKey } from "../../calendar/schedule/schedule.ts";
import { ValidationError } from "../../calendar/errors.ts";
import type { Env } from "../env.ts";

let cache: { text: string; key: SigningKey } | undefined;

/** SCHEDULE_SIGNING_KEY: a private Ed25519 JWK as JSON, its `kid` naming it. Undefined when unset. */
export function signingKeyOf(env: Env): SigningKey | undefined {
  const text = typeof env.SCHEDULE_SIGNING_KEY === "string" ? env.SCHEDULE_SIGNING_KEY.trim() : "";
  if (!text) return undefined;
  if (cache?.text === text) return cache.key;
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw new ValidationError("SCHEDULE_SIGNING_KEY is not JSON (a private Ed25519 JWK)");
  }
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.d !== "string" || typeof jwk.x !== "string") throw new ValidationError("SCHEDULE_SIGNING_KEY must be a private Ed25519 JWK (kty OKP, crv Ed25519, d, x)");
  const kid = typeof jwk.kid === "string" && jwk.kid ? jwk.kid : "labhog";
  cache = { text, key: { kid, jwk } };
  return cache.key;
}

/** The public half, for agents and the /api/v1/schedule-keys document. */
export function publicJwkOf(key: SigningKey): JWK {
  const { d: _d, ...pub } = key.jwk;
  return { ...pub, kid: key.kid, alg: "EdDSA", use: "sig" };
}
