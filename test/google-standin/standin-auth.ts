/**
 * Google OAuth 2.0 token endpoint STAND-IN (test double, not Google), for the
 * service-account flow ("Using OAuth 2.0 for Server to Server Applications"):
 * POST grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>.
 * The assertion is verified like Google does: RS256 signature against the
 * service account's public key, `aud` = this token URL, `iat`/`exp` at most an
 * hour apart and not expired, a `scope` claim. Errors use Google's shapes
 * (400 invalid_grant / unsupported_grant_type / invalid_scope).
 */
import { decodeJwt, exportPKCS8, generateKeyPair, jwtVerify } from "jose";

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

interface Account {
  email: string;
  keyId: string;
  publicKey: CryptoKey;
}

interface IssuedToken {
  account: string;
  expiresAt: number;
  scope: string;
}

export interface TokenReply {
  status: number;
  body: Record<string, unknown>;
}

export class StandinAuth {
  private readonly accounts = new Map<string, Account>();
  private readonly tokens = new Map<string, IssuedToken>();
  private counter = 0;
  /** Lifetime of issued access tokens (Google: 3599 s). */
  tokenLifetimeSeconds = 3599;
  /** Test hook: every bearer is refused (as if the grant were withdrawn server-side). */
  rejectAllBearers = false;
  /** Number of successful and failed POST /token calls. */
  tokenRequests = 0;

  constructor(private readonly tokenUrl: () => string) {}

  /** A new service account, returned as the JSON key file Google's console hands out. */
  async createServiceAccount(): Promise<Record<string, string>> {
    const { publicKey, privateKey } = await generateKeyPair("RS256", { modulusLength: 2048, extractable: true });
    const n = ++this.counter;
    const email = `labhog-test-${n}@standin-project.iam.gserviceaccount.com`;
    const keyId = crypto.randomUUID().replace(/-/g, "");
    this.accounts.set(email, { email, keyId, publicKey });
    return {
      type: "service_account",
      project_id: "standin-project",
      private_key_id: keyId,
      private_key: await exportPKCS8(privateKey),
      client_email: email,
      client_id: String(100000000000000000000 + n),
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: this.tokenUrl(),
    };
  }

  deleteServiceAccount(email: string): void {
    this.accounts.delete(email);
    for (const [t, v] of this.tokens) if (v.account === email) this.tokens.delete(t);
  }

  /** Test hook: all issued access tokens stop working (revocation, server restart). */
  revokeAllTokens(): void {
    this.tokens.clear();
  }

  bearerIsValid(header: string | undefined): boolean {
    if (this.rejectAllBearers) return false;
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? "");
    if (!m) return false;
    const t = this.tokens.get(m[1]!);
    return !!t && t.expiresAt > Date.now() && this.accounts.has(t.account);
  }

  async exchange(form: URLSearchParams): Promise<TokenReply> {
    this.tokenRequests++;
    const bad = (error: string, error_description: string): TokenReply => ({ status: 400, body: { error, error_description } });
    if (form.get("grant_type") !== JWT_BEARER) return bad("unsupported_grant_type", "Invalid grant_type: " + (form.get("grant_type") ?? ""));
    const assertion = form.get("assertion");
    if (!assertion) return bad("invalid_request", "Missing required parameter: assertion");
    let iss: string | undefined;
    try {
      iss = decodeJwt(assertion).iss;
    } catch {
      return bad("invalid_grant", "Invalid JWT: malformed");
    }
    const account = iss ? this.accounts.get(iss) : undefined;
    if (!account) return bad("invalid_grant", "Invalid grant: account not found");
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(assertion, account.publicKey, { algorithms: ["RS256"], issuer: account.email, audience: this.tokenUrl() }));
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") return bad("invalid_grant", "Invalid JWT Signature.");
      return bad("invalid_grant", `Invalid JWT: ${(e as Error).message}`);
    }
    if (typeof claims.iat !== "number" || typeof claims.exp !== "number" || claims.exp - claims.iat > 3600) {
      return bad("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
    }
    const scope = typeof claims.scope === "string" ? claims.scope : "";
    if (!scope.split(/\s+/).some((s) => s === "https://www.googleapis.com/auth/calendar" || s === "https://www.googleapis.com/auth/calendar.events")) {
      return { status: 400, body: { error: "invalid_scope", error_description: "Invalid OAuth scope or ID token audience provided." } };
    }
    const token = `ya29.standin-${crypto.randomUUID()}`;
    this.tokens.set(token, { account: account.email, expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000, scope });
    return { status: 200, body: { access_token: token, expires_in: this.tokenLifetimeSeconds, token_type: "Bearer" } };
  }
}
