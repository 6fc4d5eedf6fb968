import { startReceiverService } from "./receiver-service.ts";

/**
 * One receiver endpoint for a Node test, on the same service the workerd
 * tests use (receiver-service.ts: every signature checked by the Standard
 * Webhooks reference library).
 */
export interface Received {
  id: string;
  verified: boolean;
  error?: string;
  body: any;
  at: number;
}

export interface Receiver {
  url: string;
  received(): Promise<Received[]>;
  /** The HTTP statuses of the next deliveries (then 204). */
  script(statuses: number[]): Promise<void>;
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  stop(): Promise<void>;
}

export async function startReceiver(secret: string): Promise<Receiver> {
  const service = await startReceiverService(secret);
  const received = async () => (await (await fetch(`${service.url}/deliveries/t`)).json()) as Received[];
  return {
    url: `${service.url}/hook/t`,
    received,
    async script(statuses) {
      await fetch(`${service.url}/script/t`, { method: "POST", body: JSON.stringify(statuses) });
    },
    async waitFor(n, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      let got = await received();
      while (got.length < n && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 25));
        got = await received();
      }
      if (got.length < n) throw new Error(`expected ${n} deliveries, got ${got.length}: ${JSON.stringify(got)}`);
      return got;
    },
    stop: service.stop,
  };
}

/** A fresh whsec_ secret, as Standard Webhooks serializes one. */
export function newSecret(): string {
  return `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
}
