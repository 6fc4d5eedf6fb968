/** Shared-secret checks for push callers: constant-time comparison and HMAC-bound channel tokens. */
export function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let d = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) d |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return d === 0;
}

async function hmac(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...sig)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The token a Google channel carries: names the resource, and is bound to the channel id by an HMAC. */
export async function channelToken(secret: string, resource: string, channelId: string): Promise<string> {
  return `${resource}.${await hmac(secret, `${resource}\n${channelId}`)}`;
}

/** The resource a channel token stands for, or undefined when it was not made with this secret for this channel. */
export async function verifyChannelToken(secret: string, token: string, channelId: string): Promise<string | undefined> {
  const i = token.lastIndexOf(".");
  if (i <= 0 || token.length > 256) return undefined;
  const resource = token.slice(0, i);
  const expected = await channelToken(secret, resource, channelId);
  return sameSecret(expected, token) ? resource : undefined;
}
