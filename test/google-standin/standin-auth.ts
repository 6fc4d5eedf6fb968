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
  /** A Workspace admin granted this client domain-wide delegation (Admin console → API controls). */
  delegation: boolean;
}

interface IssuedToken {
  account: string;
  /** The user impersonated (JWT `sub`), under domain-wide delegation. */
  subject?: string;
  expiresAt: number;
  scope: string;
}

/** Who a bearer acts as: the service account, and the user it impersonates if any. */
export interface Caller {
  account: string;
  subject?: string;
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
    this.accounts.set(email, { email, keyId, publicKey, delegation: false });
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

  /** Test hook: what a Workspace admin does to let this service account impersonate users (JWT `sub`). */
  grantDomainWideDelegation(email: string): void {
    const a = this.accounts.get(email);
    if (!a) throw new Error(`no stand-in service account ${email}`);
    a.delegation = true;
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
    return this.callerOf(header) !== undefined;
  }

  /** The caller a valid bearer stands for, or undefined. */
  callerOf(header: string | undefined): Caller | undefined {
    if (this.rejectAllBearers) return undefined;
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? "");
    if (!m) return undefined;
    const t = this.tokens.get(m[1]!);
    if (!t || t.expiresAt <= Date.now() || !this.accounts.has(t.account)) return undefined;
    return { account: t.account, ...(t.subject ? { subject: t.subject } : {}) };
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
    // Impersonation (`sub`) needs domain-wide delegation granted by the
    // Workspace admin; without it Google's token endpoint answers
    // 401 unauthorized_client ("Using OAuth 2.0 for Server to Server
    // Applications", delegating domain-wide authority).
    const subject = typeof claims.sub === "string" && claims.sub ? claims.sub : undefined;
    if (subject && !account.delegation) {
      return { status: 401, body: { error: "unauthorized_client", error_description: "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested." } };
    }
    const token = `ya29.standin-${crypto.randomUUID()}`;
    this.tokens.set(token, { account: account.email, ...(subject ? { subject } : {}), expiresAt: Date.now() + this.tokenLifetimeSeconds * 1000, scope });
    return { status: 200, body: { access_token: token, expires_in: this.tokenLifetimeSeconds, token_type: "Bearer" } };
  }
}
