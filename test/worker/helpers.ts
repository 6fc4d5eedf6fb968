import { SELF, env } from "cloudflare:test";
import { answerOf } from "../api-call.ts";
import { generateSigningKey } from "../../calendar/schedule/schedule.ts";
import { setEnvOverrides } from "../../worker/env.ts";
import { sha256Hex } from "../../worker/auth/tokens.ts";

export const testEnv = env as unknown as Record<string, string>;

export const TOKENS = { alice: "tok-alice-0123456789", bob: "tok-bob-0123456789", carol: "tok-carol-0123456789", agent: "tok-agent-host1" };

/** A lab for tests: memory calendars unless `calendars` says otherwise. */
export function labYaml(opts: { site?: string; calendars?: string; resources?: string; syncInterval?: string; mqtt?: boolean } = {}): string {
  const mqtt = opts.mqtt === false ? "" : `mqtt:\n  url: ${testEnv.TEST_MQTT_WS_URL}\n  username: labhog-worker\n  passwordSecret: MQTT_PASSWORD\n  prefix: test/${opts.site ?? "t"}\n`;
  return `site: ${opts.site ?? "t"}
calendars:
${opts.calendars ?? "  default: { backend: memory }"}
pools:
  boards: {}
resources:
${
  opts.resources ??
  `  host1: { kind: host, agent: host1 }
  host2: { kind: host, agent: host2 }
  b1: { kind: board, pool: boards, agent: host1, tags: { soc: rk3588 } }
  b2: { kind: board, pool: boards, agent: host2, tags: { soc: rk3588 } }
  usb1: { kind: usb, agent: host2 }
  lone: { kind: host }
  secret: { kind: host }`
}
users:
  alice: { email: alice@example.com, unix: alice, groups: [lab, admins], sshKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"] }
  bob: { email: bob@example.com, unix: bob, groups: [lab] }
  carol: { email: carol@example.com, unix: carol, groups: [] }
groups:
  lab: { book: ["host1", "host2", "pool:boards", "usb1", "lone"] }
  admins: { admin: ["*"] }
agents:
  host1: { tokenSecret: AGENT_HOST1_HASH }
  host2: {}
${mqtt}policy:
  syncInterval: ${opts.syncInterval ?? "15s"}
`;
}

export async function configure(extra: Record<string, unknown> = {}, lab: Parameters<typeof labYaml>[0] = {}) {
  const key = await generateSigningKey("test-key-1");
  const tokens: Record<string, string> = {};
  for (const who of ["alice", "bob", "carol"] as const) tokens[await sha256Hex(TOKENS[who])] = `user:${who}`;
  setEnvOverrides({
    LAB_CONFIG: labYaml(lab),
    API_TOKENS: JSON.stringify(tokens),
    AGENT_HOST1_HASH: await sha256Hex(TOKENS.agent),
    SCHEDULE_SIGNING_KEY: JSON.stringify(key.privateJwk),
    MQTT_PASSWORD: "unused-anonymous-broker",
    ...extra,
  });
  return { publicJwk: key.publicJwk };
}

export type Who = keyof typeof TOKENS | null;

export async function api(method: string, path: string, body?: unknown, who: Who = "alice", headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const h: Record<string, string> = { ...headers };
  if (who) h.authorization = `Bearer ${TOKENS[who]}`;
  let payload: string | undefined;
  if (body !== undefined) {
    h["content-type"] ??= "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  return answerOf(await SELF.fetch(`http://labhog.test${path}`, { method, headers: h, ...(payload !== undefined ? { body: payload } : {}) }));
}

export const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();
export const enc = encodeURIComponent;

/**
 * Restarts one resource's ledger (its instance torn down, storage kept), as
 * an eviction would. Not abortAllDurableObjects(): that also tears down the
 * Broker, whose MQTT client (MQTT.js keeps one task queue per isolate, see
 * worker/README "Sharp edges") may then not get a CONNACK again in this
 * isolate, and every later schedule of the file goes unpublished.
 */
export async function restartLedger(ns: DurableObjectNamespace, resource: string): Promise<void> {
  const { runInDurableObject } = await import("cloudflare:test");
  await runInDurableObject(ns.get(ns.idFromName(resource)), (_i, state) => state.abort("test: restart")).catch(() => undefined);
}

/**
 * A ledger that lost its storage, restarted. The wipe and the abort happen in
 * one turn: with an await between them, the old instance's publisher could
 * still save its meta (last sync included) into the wiped storage, and the
 * new instance would believe it had synced an empty calendar.
 */
export async function wipeLedger(ns: DurableObjectNamespace, resource: string): Promise<void> {
  const { runInDurableObject } = await import("cloudflare:test");
  await runInDurableObject(ns.get(ns.idFromName(resource)), async (_i, state) => {
    // Output-gated: no other event of this object runs until the delete is done, and abort follows at once.
    await state.storage.deleteAll();
    state.abort("test: storage wiped");
  }).catch(() => undefined);
  const meta = await runInDurableObject(ns.get(ns.idFromName(resource)), (_i, state) => state.storage.get("meta"));
  if (meta !== undefined) throw new Error(`wipeLedger: ${resource} still has meta after the wipe`);
}
