/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature
 * scheme"): HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>` with
 * the key that follows `whsec_` (base64), sent as `v1,<base64>`. WebCrypto
 * only, so it runs in workerd.
 */
export function secretKeyBytes(secret: string): Uint8Array<ArrayBuffer> {
  const b64 = secret.startsWith("whsec_") ? secret.slice(6) : secret;
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    throw new Error("webhook secret is not whsec_<base64>");
  }
  if (bin.length < 24) throw new Error("webhook secret is shorter than 24 bytes");
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export async function signWebhook(secret: string, id: string, timestampSec: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", secretKeyBytes(secret) as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestampSec}.${body}`)));
  return `v1,${btoa(String.fromCharCode(...mac))}`;
}

/** The headers of one delivery. The id stays the same across retries, so receivers can drop duplicates. */
export async function webhookHeaders(secret: string, id: string, nowMs: number, body: string): Promise<Record<string, string>> {
  const ts = Math.floor(nowMs / 1000);
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(ts),
    "webhook-signature": await signWebhook(secret, id, ts, body),
    "user-agent": "labhog-webhooks/1",
  };
}
