/**
 * The Broker's publishes, gathered and written together.
 *
 * Every ledger hands its schedule to the one Broker Durable Object, so in a
 * burst hundreds of publishes arrive within a few milliseconds. Each used to
 * wait for the connection with its own listener and race its own PUBACK
 * timer; here they queue, and one flush per turn of the event loop writes
 * them all back to back on the one connection (MQTT.js keeps them in flight
 * together; nothing waits for one PUBACK before sending the next).
 *
 * A retained message for a topic that already has one queued replaces it:
 * a subscriber only ever keeps the last retained message of a topic, so
 * sending the older one first would buy nothing but a message the agent
 * discards (a lower seq). Both callers learn the outcome of the one sent.
 * Messages that are not retained (console traffic) are never merged.
 */
export type PublishResult = { ok: true } | { ok: false; error: string };

export interface OutboxMessage {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
}

/** What the outbox needs from the MQTT client: one publish with a callback on PUBACK (QoS 1) or on write (QoS 0). */
export interface OutboxSink {
  /** Resolves when the connection is up; false when it did not come up in time. */
  ready(): Promise<string | undefined>;
  send(m: OutboxMessage, done: (error?: Error) => void): void;
}

interface Waiting {
  message: OutboxMessage;
  resolve: Array<(r: PublishResult) => void>;
}

export class Outbox {
  /** Queued, in arrival order; retained ones also indexed by topic for merging. */
  #queue: Waiting[] = [];
  #retained = new Map<string, Waiting>();
  #flushing = false;

  constructor(private readonly sink: () => OutboxSink | string, private readonly timeoutMs: number) {}

  /** Queues one message; resolves once the broker acknowledged it (or a newer retained one for its topic), or with why not. */
  publish(message: OutboxMessage): Promise<PublishResult> {
    return new Promise((resolve) => {
      const queued = message.retain ? this.#retained.get(message.topic) : undefined;
      if (queued) {
        queued.message = message;
        queued.resolve.push(resolve);
      } else {
        const w = { message, resolve: [resolve] };
        this.#queue.push(w);
        if (message.retain) this.#retained.set(message.topic, w);
      }
      if (!this.#flushing) {
        this.#flushing = true;
        // The rest of this turn's publishes join the same flush.
        setTimeout(() => void this.#flush(), 0);
      }
    });
  }

  /** Messages waiting for the next flush (tests). */
  get size(): number {
    return this.#queue.length;
  }

  async #flush(): Promise<void> {
    try {
      const sink = this.sink();
      if (typeof sink === "string") return this.#settle(this.#take(), { ok: false, error: sink });
      const notReady = await sink.ready();
      // Publishes that arrived while connecting go out in this flush too.
      const batch = this.#take();
      if (notReady) return this.#settle(batch, { ok: false, error: notReady });
      for (const w of batch) this.#sendOne(sink, w);
    } catch (e) {
      this.#settle(this.#take(), { ok: false, error: (e as Error).message });
    } finally {
      this.#flushing = false;
      if (this.#queue.length) {
        this.#flushing = true;
        setTimeout(() => void this.#flush(), 0);
      }
    }
  }

  #take(): Waiting[] {
    const batch = this.#queue;
    this.#queue = [];
    this.#retained.clear();
    return batch;
  }

  #settle(batch: Waiting[], r: PublishResult): void {
    for (const w of batch) for (const resolve of w.resolve) resolve(r);
  }

  #sendOne(sink: OutboxSink, w: Waiting): void {
    let settled = false;
    const finish = (r: PublishResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.#settle([w], r);
    };
    const timer = setTimeout(() => finish({ ok: false, error: "no PUBACK in time" }), this.timeoutMs);
    try {
      sink.send(w.message, (error) => finish(error ? { ok: false, error: error.message } : { ok: true }));
    } catch (e) {
      finish({ ok: false, error: (e as Error).message });
    }
  }
}
