import { createLocalJWKSet, jwtVerify, errors as joseErrors, type JSONWebKeySet, type JWTPayload } from "jose";
import { UnauthorizedError, UnavailableError } from "../../calendar/errors.ts";
import type { Env } from "../env.ts";

/**
 * JWTs from an OIDC issuer or Cloudflare Access, verified against the
 * issuer's JWKS. The key set is cached as plain JSON, not as jose's remote
 * set: a fetch promise started in one request cannot be awaited from another
 * in workerd.
 */
export interface JwtIssuer {
  issuer: string;
  audience?: string;
  jwksUrl?: string;
  kind: "jwt" | "access";
}

const REFRESH_MIN_MS = 30_000;
const jwksCache = new Map<string, { keys: JSONWebKeySet; fetchedAt: number }>();
const discovered = new Map<string, string>();

export function issuersOf(env: Env): JwtIssuer[] {
  const out: JwtIssuer[] = [];
  if (env.OIDC_ISSUER) out.push({ kind: "jwt", issuer: env.OIDC_ISSUER, ...(env.OIDC_AUDIENCE ? { audience: env.OIDC_AUDIENCE } : {}), ...(env.OIDC_JWKS_URL ? { jwksUrl: env.OIDC_JWKS_URL } : {}) });
  if (env.ACCESS_TEAM_DOMAIN) {
    const team = env.ACCESS_TEAM_DOMAIN.replace(/\/+$/, "");
    out.push({ kind: "access", issuer: team, jwksUrl: `${team}/cdn-cgi/access/certs`, ...(env.ACCESS_AUD ? { audience: env.ACCESS_AUD } : {}) });
  }
  return out;
}

async function fetchJson(url: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(5000) });
  } catch (e) {
    throw new UnavailableError(`cannot reach the identity provider at ${new URL(url).origin}`, 5, { cause: e });
  }
  if (!res.ok) throw new UnavailableError(`the identity provider answered ${res.status} for ${new URL(url).pathname}`, 5);
  return res.json();
}

async function jwksUrlOf(iss: JwtIssuer): Promise<string> {
  if (iss.jwksUrl) return iss.jwksUrl;
  const known = discovered.get(iss.issuer);
  if (known) return known;
  const doc = (await fetchJson(`${iss.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`)) as { jwks_uri?: unknown };
  if (typeof doc.jwks_uri !== "string") throw new UnavailableError("the OIDC discovery document has no jwks_uri", 60);
  discovered.set(iss.issuer, doc.jwks_uri);
  return doc.jwks_uri;
}

async function keySet(iss: JwtIssuer, refresh: boolean): Promise<JSONWebKeySet> {
  const url = await jwksUrlOf(iss);
  const cached = jwksCache.get(url);
  if (cached && !(refresh && Date.now() - cached.fetchedAt > REFRESH_MIN_MS)) return cached.keys;
  const keys = (await fetchJson(url)) as JSONWebKeySet;
  if (!keys || !Array.isArray(keys.keys)) throw new UnavailableError("the JWKS document has no keys", 60);
  jwksCache.set(url, { keys, fetchedAt: Date.now() });
  return keys;
}

/** Verifies a JWT against one issuer; refetches the JWKS once when the kid is unknown (key rotation). */
export async function verifyJwt(token: string, iss: JwtIssuer): Promise<JWTPayload> {
  const opts = { issuer: iss.issuer, ...(iss.audience ? { audience: iss.audience } : {}), clockTolerance: 30 };
  for (const refresh of [false, true]) {
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(await keySet(iss, refresh)), opts);
      return payload;
    } catch (e) {
      if (e instanceof joseErrors.JWKSNoMatchingKey && !refresh) continue;
      if (e instanceof UnavailableError) throw e;
      throw new UnauthorizedError(`token rejected: ${jwtReason(e)}`);
    }
  }
  throw new UnauthorizedError("token rejected: no matching key");
}

function jwtReason(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return "expired";
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `claim ${e.claim} ${e.reason}`;
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return "bad signature";
  if (e instanceof joseErrors.JWKSNoMatchingKey) return "no matching key";
  if (e instanceof joseErrors.JOSEError) return e.code;
  return "malformed";
}
