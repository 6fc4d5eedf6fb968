/**
 * The Google event id labhog gives the event of a UID, so that an insert is
 * idempotent: resent after a lost answer it meets its own event (409 on the
 * same id) instead of making a second one. Event.id rules (v3.ts): "characters
 * allowed in the ID are those used in base32hex encoding, i.e. lowercase
 * letters a-v and digits 0-9", "the length of the ID must be between 5 and
 * 1024 characters". UIDs are arbitrary text of any length, so the id is
 * "lh" + base32hex(SHA-256(UID)): 54 characters, the same for the same UID
 * everywhere, collisions as unlikely as SHA-256's.
 */
const B32HEX = "0123456789abcdefghijklmnopqrstuv";

export function base32hex(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32HEX[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32HEX[(value << (5 - bits)) & 31];
  return out;
}

export async function eventIdFor(uid: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(uid)));
  return `lh${base32hex(digest)}`;
}
