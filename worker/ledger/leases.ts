import type { Hold, Lease } from "./state.ts";

/** Leases, holds and waits: the parts of a booking that live beside the calendar. Pure rules here; the ledger does the I/O. */

/** Leases whose keep-alives stopped: `ttl` seconds after the last one. */
export function expiredLeases(leases: Iterable<Lease>, now: number): Lease[] {
  return [...leases].filter((l) => l.lastKeepalive + l.ttl * 1000 <= now);
}

export function leaseExpiry(l: Lease): string {
  return new Date(l.lastKeepalive + l.ttl * 1000).toISOString();
}

/** Drops holds past their expiry (a two-phase booking that never committed). */
export function pruneHolds(holds: Map<string, Hold>, now: number): void {
  for (const [id, h] of holds) if (h.expires < now) holds.delete(id);
}

/** People waiting for any change on this resource (bounded waits): woken all at once. */
export class Waiters {
  #set = new Set<() => void>();

  notify(): void {
    for (const w of this.#set) w();
    this.#set.clear();
  }

  /** Resolves true on the next change, false after `ms`. */
  wait(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#set.delete(wake);
        resolve(false);
      }, ms);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#set.add(wake);
    });
  }
}
