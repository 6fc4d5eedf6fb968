import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { ForbiddenError, UnauthorizedError } from "../../calendar/errors.ts";
import { isUser } from "../../calendar/lab.ts";
import type { Env } from "../env.ts";
import { issuersOf, verifyJwt, type JwtIssuer } from "./jwt.ts";
import type { Principal } from "./principal.ts";
import { principalFromToken } from "./tokens.ts";

export function authOff(env: Env): boolean {
  return typeof env.AUTH === "string" && env.AUTH.trim().toLowerCase() === "off";
}

/** Who the embedded default acts as when auth is off: DEFAULT_USER, else the lab's first user. */
export function defaultUser(env: Env, lab: LabConfig): string {
  const d = typeof env.DEFAULT_USER === "string" ? env.DEFAULT_USER : undefined;
  return d && isUser(lab, d) ? d : (Object.keys(lab.users)[0] ?? "anonymous");
}

function userFromClaims(claims: Record<string, unknown>, lab: LabConfig): string {
  const email = typeof claims.email === "string" ? claims.email.toLowerCase() : undefined;
  if (email) for (const [id, u] of Object.entries(lab.users)) if (u.email.toLowerCase() === email) return id;
  const sub = typeof claims.sub === "string" ? claims.sub : undefined;
  if (sub && isUser(lab, sub)) return sub;
  throw new ForbiddenError(`no labhog user for ${email ?? sub ?? "this identity"}`);
}

const looksLikeJwt = (t: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(t);

/** Authenticates a request: Authorization: Bearer (token or JWT), or a Cloudflare Access assertion. */
export async function authenticate(headers: Headers, env: Env, lab: LabConfig): Promise<Principal> {
  if (authOff(env)) return { kind: "user", id: defaultUser(env, lab), via: "auth-off" };
  const issuers = issuersOf(env);
  const access = headers.get("cf-access-jwt-assertion");
  const accessIssuer = issuers.find((i) => i.kind === "access");
  if (access && accessIssuer) {
    const claims = await verifyJwt(access, accessIssuer);
    return { kind: "user", id: userFromClaims(claims, lab), via: "access" };
  }
  const authz = headers.get("authorization");
  if (!authz) throw new UnauthorizedError("authentication required: send Authorization: Bearer <token>");
  const m = /^Bearer[ ]+([\x21-\x7e]{1,8192})$/i.exec(authz.trim());
  if (!m) throw new UnauthorizedError("the Authorization header must be `Bearer <token>`");
  const token = m[1]!;
  if (looksLikeJwt(token) && issuers.length) {
    let last: unknown;
    for (const iss of issuers as JwtIssuer[]) {
      try {
        const claims = await verifyJwt(token, iss);
        return { kind: "user", id: userFromClaims(claims, lab), via: iss.kind };
      } catch (e) {
        if (e instanceof ForbiddenError) throw e;
        last = e;
      }
    }
    throw last;
  }
  const p = await principalFromToken(token, env, lab);
  if (!p) throw new UnauthorizedError("unknown or revoked token");
  return p;
}
