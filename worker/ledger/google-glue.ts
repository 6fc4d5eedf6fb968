import { ensureChannel, googlePushConfig, isWatchable, renewalDue, type StoredChannel } from "../push/google-channel.ts";
import type { LedgerCore } from "./core.ts";

/**
 * The Google push channel of this resource's calendar (google backend with
 * push configured; endpoint in worker/push). Kept from the alarm; stored
 * under "google-channel". A failure is retried in a minute.
 */
export class ChannelKeeper {
  channel: StoredChannel | undefined;
  #retryAt: number | undefined;

  /** When the alarm must run for the channel's sake. */
  due(): number | undefined {
    return this.#retryAt ?? renewalDue(this.channel);
  }

  async keep(core: LedgerCore): Promise<void> {
    const push = googlePushConfig(core.env());
    if (!push) return;
    try {
      const next = await core.calendar("google channel", async (cal) => {
        if (cal.kind !== "google" || !isWatchable(cal)) return undefined;
        return ensureChannel({ backend: cal, resource: core.resource, secret: push.secret, publicUrl: push.publicUrl, stored: this.channel, now: Date.now(), log: core.log() });
      });
      this.#retryAt = undefined;
      if (next && next !== this.channel) {
        this.channel = next;
        await core.storage.put("google-channel", next);
      }
    } catch (e) {
      this.#retryAt = Date.now() + 60_000;
      core.log().warn("could not open the google push channel", { error: e });
    }
  }
}
