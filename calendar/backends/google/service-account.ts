import { SignJWT, importPKCS8 } from "jose";
import { UnauthorizedError, UnavailableError, ValidationError } from "../../errors.ts";

/**
 * Service-account auth as Google documents it for server-to-server apps: a
 * JWT assertion signed RS256 with the account's private key, exchanged at the
 * OAuth token endpoint (grant_type jwt-bearer) for a bearer token. jose signs
 * with WebCrypto, so this runs in workerd and Node alike (google-auth-library
 * signs with node:crypto and reads key files: not usable in a Worker).
 */

export const CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar";
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** The fields we use from a service-account JSON key file. */
export interface ServiceAccountKey {
  type?: string;
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

export function parseServiceAccountKey(json: string | ServiceAccountKey): ServiceAccountKey {
  let key: unknown = json;
  if (typeof json === "string") {
    try {
      key = JSON.parse(json);
    } catch {
      throw new ValidationError("google credentials are not JSON (expected a service-account key file)");
    }
  }
  const k = key as Partial<ServiceAccountKey> | null;
  if (!k || typeof k.client_email !== "string" || typeof k.private_key !== "string") {
    throw new ValidationError("google credentials need client_email and private_key (a service-account key file)");
  }
  if (k.type !== undefined && k.type !== "service_account") {
    throw new ValidationError(`google credentials are of type "${k.type}", expected "service_account"`);
  }
  return k as ServiceAccountKey;
}

export interface TokenSourceOptions {
  key: ServiceAccountKey;
  /** Overrides the key's token_uri (the stand-in's token endpoint in tests). */
  tokenUrl?: string;
  scope?: string;
  /** Impersonated user for domain-wide delegation (JWT `sub`). */
  subject?: string;
  fetch?: typeof fetch;
  /** Refresh this long before the token expires. */
  refreshMarginSeconds?: number;
  now?: () => number;
}

interface CachedToken {
  value: string;
  /** ms epoch after which we fetch a new one. */
  refreshAt: number;
}

/**
 * Hands out a bearer token, fetching a new one only when the cached one is
 * about to expire. Concurrent callers share one in-flight exchange.
 */
export class ServiceAccountTokenSource {
  readonly tokenUrl: string;
  private readonly opts: TokenSourceOptions;
  private cached: CachedToken | undefined;
  private inflight: Promise<string> | undefined;
  private signingKey: Promise<CryptoKey> | undefined;
  /** How many token exchanges were made (observability and tests). */
  exchanges = 0;

  constructor(opts: TokenSourceOptions) {
    this.opts = opts;
    this.tokenUrl = opts.tokenUrl ?? opts.key.token_uri ?? GOOGLE_TOKEN_URL;
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  async token(): Promise<string> {
    if (this.cached && this.now() < this.cached.refreshAt) return this.cached.value;
    this.inflight ??= this.exchange().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Forget the cached token (the API said it is no longer valid). */
  invalidate(token?: string): void {
    if (token === undefined || this.cached?.value === token) this.cached = undefined;
  }

  private key(): Promise<CryptoKey> {
    this.signingKey ??= importPKCS8(this.opts.key.private_key, "RS256").catch((e: unknown) => {
      this.signingKey = undefined;
      throw new UnauthorizedError(`google service-account private key unusable: ${(e as Error).message}`);
    });
    return this.signingKey;
  }

  private async assertion(): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    const jwt = new SignJWT({ scope: this.opts.scope ?? CALENDAR_SCOPE, ...(this.opts.subject ? { sub: this.opts.subject } : {}) })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", ...(this.opts.key.private_key_id ? { kid: this.opts.key.private_key_id } : {}) })
      .setIssuer(this.opts.key.client_email)
      .setAudience(this.tokenUrl)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600);
    return jwt.sign(await this.key());
  }

  private async exchange(): Promise<string> {
    const body = new URLSearchParams({ grant_type: JWT_BEARER, assertion: await this.assertion() });
    const doFetch = this.opts.fetch ?? fetch;
    this.exchanges++;
    let res: Response;
    try {
      res = await doFetch(this.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body,
      });
    } catch (e) {
      throw new UnavailableError(`google token endpoint unreachable: ${(e as Error).message}`, undefined, { cause: e });
    }
    const text = await res.text();
    let data: { access_token?: string; expires_in?: number; error?: string; error_description?: string } = {};
    try {
      data = JSON.parse(text);
    } catch {
      // non-JSON error pages fall through to the status handling below
    }
    if (res.status === 429 || res.status >= 500) {
      const ra = Number(res.headers.get("retry-after"));
      throw new UnavailableError(`google token endpoint answered ${res.status}`, Number.isFinite(ra) && ra > 0 ? ra : undefined);
    }
    if (!res.ok || !data.access_token) {
      // Google answers a bad signature, unknown account or wrong audience with 400 invalid_grant.
      throw new UnauthorizedError(`google token exchange refused (${res.status} ${data.error ?? ""}: ${data.error_description ?? text.slice(0, 200)})`, {
        status: res.status,
        error: data.error,
      });
    }
    const lifetime = typeof data.expires_in === "number" && data.expires_in > 0 ? data.expires_in : 3600;
    const margin = Math.min(this.opts.refreshMarginSeconds ?? 300, lifetime / 2);
    this.cached = { value: data.access_token, refreshAt: this.now() + (lifetime - margin) * 1000 };
    return data.access_token;
  }
}
