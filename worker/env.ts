import type { Ledger } from "./ledger/ledger.ts";
import type { Broker } from "./broker/broker.ts";

/**
 * Bindings, vars and secrets of the Worker (see worker/README.md).
 * Secrets named in the lab config (`passwordSecret`, `credentialsSecret`,
 * `tokenSecret`) are looked up here by name as well.
 */
export interface Env {
  LEDGER: DurableObjectNamespace<Ledger>;
  BROKER: DurableObjectNamespace<Broker>;
  /** Lab config text (YAML or JSON) replacing the bundled worker/lab.yaml. */
  LAB_CONFIG?: string;
  /** "off" turns authentication off (embedded default / demo only). */
  AUTH?: string;
  /** JSON object: SHA-256 hex of a bearer token → "user:<id>" or "agent:<id>". */
  API_TOKENS?: string;
  /** OIDC issuer whose JWTs are accepted (JWKS from discovery, or OIDC_JWKS_URL). */
  OIDC_ISSUER?: string;
  OIDC_AUDIENCE?: string;
  OIDC_JWKS_URL?: string;
  /** Cloudflare Access: team domain (https://<team>.cloudflareaccess.com) and application AUD tag. */
  ACCESS_TEAM_DOMAIN?: string;
  ACCESS_AUD?: string;
  /** Private Ed25519 JWK (JSON, with `kid`) that signs schedules. */
  SCHEDULE_SIGNING_KEY?: string;
  LOG_LEVEL?: string;
  [name: string]: unknown;
}

let overrides: Record<string, unknown> | undefined;

/**
 * Tests in workerd cannot rebind the Worker's env per test file (the vitest
 * config fixes the bindings), and Durable Objects read their own env; tests
 * that need another lab config or secrets set them here. Tests and Durable
 * Objects share one isolate in the vitest pool, so both see the same values.
 * Production never calls this.
 */
export function setEnvOverrides(values: Record<string, unknown> | undefined): void {
  overrides = values;
}

export function effectiveEnv<E extends Env>(env: E): E {
  return overrides ? ({ ...env, ...overrides } as E) : env;
}

export function secretOf(env: Env, name: string | undefined): string | undefined {
  if (!name) return undefined;
  const v = env[name];
  return typeof v === "string" ? v : undefined;
}
