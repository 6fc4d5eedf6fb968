import type { WebhookConfig } from "../../calendar/config/webhooks.ts";
import type { Reservation } from "../../calendar/model.ts";
import { isUnbookedUse } from "../usage/unbooked.ts";
import { deliver } from "../webhooks/deliver.ts";
import type { WebhookBody } from "../webhooks/events.ts";
import { afterAttempt, due, enqueue, nextOutboxAlarm, type OutboxEntry } from "../webhooks/outbox.ts";
import { transitions, type Told } from "../webhooks/transitions.ts";
import type { LedgerCore } from "./core.ts";

/**
 * The ledger's side of outgoing webhooks. After every change and on every
 * alarm it compares what it sees with what the webhooks were last told
 * (webhooks/transitions.ts) and queues one delivery per event and webhook
 * in its storage (`outbox:<id>`); deliveries run beside the queue and are
 * retried from the alarm by the Standard Webhooks schedule. A fresh ledger
 * (or one that never had webhooks) first notes what exists without telling,
 * so a deploy doesn't replay history.
 *
 * What webhooks were told is kept one storage key per reservation
 * (`told:<id>`), so a resource with hundreds of reservations never meets the
 * per-value size limit; `told-primed` says the first look happened.
 */
const TOLD = "told:";
const PRIMED = "told-primed";
const WINDOW_BEFORE_MS = 86_400_000;
const WINDOW_AFTER_MS = 400 * 86_400_000;

/** The reservations webhooks follow: a day back to the ledger's horizon, unbooked use left out. */
function watched(core: LedgerCore, now: number): Reservation[] {
  return core.view.reservations(now - WINDOW_BEFORE_MS, now + WINDOW_AFTER_MS, now).filter((r) => !isUnbookedUse(r));
}

export function webhooksOf(core: LedgerCore): Map<string, WebhookConfig> {
  return new Map(Object.entries(core.lab().webhooks ?? {}));
}

export class WebhookOutbox {
  #told: Map<string, Told> | undefined;
  #outbox = new Map<string, OutboxEntry>();
  #loaded = false;
  #sending: Promise<void> | undefined;
  /** Events the ledger knows of first-hand (a no-show release), sent with the next comparison. */
  #pending: WebhookBody[] = [];

  constructor(private readonly waitUntil: (p: Promise<unknown>) => void) {}

  async #load(core: LedgerCore): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    if (await core.storage.get<boolean>(PRIMED)) {
      const told = new Map<string, Told>();
      for (const [k, t] of await core.storage.list<Told>({ prefix: TOLD })) told.set(k.slice(TOLD.length), t);
      this.#told = told;
    }
    for (const [, e] of await core.storage.list<OutboxEntry>({ prefix: "outbox:" })) this.#outbox.set(e.id, e);
  }

  /** Queues an event for the next notice (which the change that follows always triggers). */
  tell(body: WebhookBody): void {
    this.#pending.push(body);
  }

  /** When the alarm must wake for a retry. */
  due(): number | undefined {
    return nextOutboxAlarm([...this.#outbox.values()]);
  }

  /**
   * The first time webhooks look at this ledger (a new deploy, or webhooks
   * just added to the lab), what exists is noted without telling, so history
   * isn't replayed. Called before each operation, so the operation itself is news.
   */
  async prime(core: LedgerCore): Promise<void> {
    if (this.#told !== undefined && this.#loaded) return;
    if (!webhooksOf(core).size || !core.state.meta.lastSyncAt) return;
    await this.#load(core);
    if (this.#told !== undefined) return;
    const next = transitions(new Map(), watched(core, Date.now())).next;
    await saveTold(core, new Map(), next);
    this.#told = next;
  }

  /** Compares and queues; call inside the ledger's queue after anything changed (and from the alarm: the clock changes states too). */
  async notice(core: LedgerCore, extra: WebhookBody[] = []): Promise<void> {
    const hooks = webhooksOf(core);
    extra = [...this.#pending.splice(0), ...extra];
    if (!hooks.size) return;
    await this.#load(core);
    if (!core.state.meta.lastSyncAt) return; // nothing true to compare yet
    const now = Date.now();
    const before = this.#told ?? new Map<string, Told>();
    const { events, next } = transitions(before, watched(core, now));
    const priming = this.#told === undefined;
    await saveTold(core, before, next);
    this.#told = next;
    // What the caller knows happened (a no-show release, an enforcement failure) goes before what the comparison finds (ended).
    const bodies: WebhookBody[] = priming ? [...extra] : [...extra, ...events.map((e): WebhookBody => ({
      type: e.type,
      timestamp: new Date(now).toISOString(),
      site: core.lab().site,
      data: { resource: core.resource, reservation: e.reservation, ...(e.conflictsWith ? { conflictsWith: e.conflictsWith } : {}) },
    }))];
    if (!bodies.length) return;
    const pool = core.lab().resources[core.resource]?.pool;
    for (const b of bodies) {
      for (const e of enqueue(hooks, b, pool, now, () => `msg_${crypto.randomUUID().replace(/-/g, "")}`)) {
        this.#outbox.set(e.id, e);
        await core.storage.put(`outbox:${e.id}`, e);
      }
    }
    this.send(core);
  }

  /** Delivers what is due, beside the queue (never holds a booking up). */
  send(core: LedgerCore): void {
    if (this.#sending || !this.#outbox.size) return;
    this.#sending = this.#deliverDue(core).finally(() => (this.#sending = undefined));
    this.waitUntil(this.#sending);
  }

  async #deliverDue(core: LedgerCore): Promise<void> {
    await this.#load(core);
    const hooks = webhooksOf(core);
    const env = core.env() as Record<string, unknown>;
    for (const e of due([...this.#outbox.values()], Date.now())) {
      const w = hooks.get(e.webhook);
      if (!w) {
        // The webhook was removed from the lab: drop what was queued for it.
        this.#outbox.delete(e.id);
        await core.storage.delete(`outbox:${e.id}`);
        continue;
      }
      const secret = typeof env[w.secretSecret] === "string" ? (env[w.secretSecret] as string) : undefined;
      const result = await deliver(e, w, secret, Date.now());
      const outcome = afterAttempt(e, result, Date.now());
      if (outcome.done) {
        this.#outbox.delete(e.id);
        await core.storage.delete(`outbox:${e.id}`);
        if (outcome.delivered) core.log().info("webhook delivered", { webhook: e.webhook, type: e.type, id: e.id });
        else core.log().warn("webhook dropped", { webhook: e.webhook, type: e.type, id: e.id, reason: outcome.reason });
      } else {
        this.#outbox.set(e.id, outcome.entry);
        await core.storage.put(`outbox:${e.id}`, outcome.entry);
        core.log().warn("webhook delivery failed; will retry", { webhook: e.webhook, type: e.type, id: e.id, error: outcome.entry.lastError, nextAt: new Date(outcome.entry.nextAt).toISOString() });
      }
    }
    await core.arm();
  }
}

/** Writes only what changed since `before` (128 keys a call, the storage API's batch limit). */
async function saveTold(core: LedgerCore, before: ReadonlyMap<string, Told>, next: ReadonlyMap<string, Told>): Promise<void> {
  const put: Array<[string, Told]> = [];
  for (const [id, t] of next) {
    const b = before.get(id);
    if (!b || b.state !== t.state || b.fingerprint !== t.fingerprint || JSON.stringify(b.last) !== JSON.stringify(t.last)) put.push([TOLD + id, t]);
  }
  const gone = [...before.keys()].filter((id) => !next.has(id)).map((id) => TOLD + id);
  for (let i = 0; i < put.length; i += 128) await core.storage.put(Object.fromEntries(put.slice(i, i + 128)));
  for (let i = 0; i < gone.length; i += 128) await core.storage.delete(gone.slice(i, i + 128));
  await core.storage.put(PRIMED, true);
}
