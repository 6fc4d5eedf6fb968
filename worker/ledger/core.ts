import type { LabConfig } from "../../calendar/config/lab-config.ts";
import type { Env } from "../env.ts";
import type { Logger } from "../log.ts";
import type { CalendarBackend, CalendarObject } from "./calendar-port.ts";
import type { Seen } from "./precedence.ts";
import type { LedgerState } from "./state.ts";
import type { WebhookBody } from "../webhooks/events.ts";
import type { ReservationView } from "./view.ts";

/**
 * What the ledger's concern modules (sync, writes, publishing, mirror and
 * channel glue) get from the Durable Object: its state, its storage and a
 * few actions. Each module can be read with only this interface in mind.
 * Everything here runs inside the ledger's serial queue unless it says so.
 */
export interface LedgerCore {
  readonly resource: string;
  readonly state: LedgerState;
  readonly storage: DurableObjectStorage;
  readonly view: ReservationView;
  env(): Env;
  lab(): LabConfig;
  log(): Logger;
  /** Every calendar call goes through here: the lab's calendarDeadline applies (deadline.ts). */
  calendar<T>(what: string, fn: (cal: CalendarBackend, signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Puts an object into the cache (memory and storage). */
  store(o: CalendarObject): Promise<void>;
  forget(id: string): Promise<void>;
  setSeen(id: string, s: Seen): Promise<void>;
  saveMeta(): Promise<void>;
  /** The same, not awaited: the put joins the current storage batch (output-gated). */
  persistMeta(): void;
  /**
   * Wakes waiters, requests a publish, re-arms the alarm. `from`: the change
   * touched nothing before this time (a new booking's start), so the
   * publisher can tell at once when it lies beyond the agents' schedule.
   */
  changed(from?: number): void;
  notify(): void;
  arm(): Promise<void>;
  requestPublish(): void;
  syncIntervalMs(): number;
  /** An event for outgoing webhooks that only this moment knows (webhook-glue.ts); sent with the next change. */
  tellWebhooks(body: WebhookBody): void;
}
