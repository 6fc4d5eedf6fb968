import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { isAgent, isUser } from "../../calendar/lab.ts";
import { type Env, secretOf } from "../env.ts";
import { log } from "../log.ts";
import type { Principal } from "./principal.ts";

/**
 * Opaque bearer tokens, stored only as SHA-256 hashes: API_TOKENS maps hex
 * hashes to "user:<id>" / "agent:<id>", and each agent's `tokenSecret` in the
 * lab config names a secret holding that agent's token hash.
 */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

let parsed: { text: string; map: Map<string, string> } | undefined;

function tokenTable(env: Env, lab: LabConfig): Map<string, string> {
  const text = typeof env.API_TOKENS === "string" ? env.API_TOKENS : "";
  if (parsed?.text !== text) {
    const map = new Map<string, string>();
    if (text.trim()) {
      try {
        const obj = JSON.parse(text) as unknown;
        if (obj && typeof obj === "object" && !Array.isArray(obj)) {
          for (const [hash, who] of Object.entries(obj)) if (typeof who === "string") map.set(hash.toLowerCase(), who);
        }
      } catch {
        log.error("API_TOKENS is not a JSON object; no API tokens accepted");
      }
    }
    parsed = { text, map };
  }
  const map = new Map(parsed.map);
  for (const [agent, a] of Object.entries(lab.agents)) {
    const hash = secretOf(env, a.tokenSecret);
    if (hash) map.set(hash.trim().toLowerCase(), `agent:${agent}`);
  }
  return map;
}

/** The principal a token stands for, or undefined when the token is unknown. */
export async function principalFromToken(token: string, env: Env, lab: LabConfig): Promise<Principal | undefined> {
  const who = tokenTable(env, lab).get(await sha256Hex(token));
  if (!who) return undefined;
  const i = who.indexOf(":");
  const kind = who.slice(0, i);
  const id = who.slice(i + 1);
  if (kind === "user" && isUser(lab, id)) return { kind: "user", id, via: "token" };
  if (kind === "agent" && isAgent(lab, id)) return { kind: "agent", id, via: "token" };
  log.warn("API token maps to an unknown principal", { who });
  return undefined;
}
