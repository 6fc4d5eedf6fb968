/**
 * authorized_keys lines: `[options ]keytype base64 [comment]`. The options
 * field may contain quoted strings with spaces, so it is scanned, not split.
 */
const keyType = /^(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+|rsa-sha2-[0-9]+)(@[a-z0-9.-]+)?$/i;

/** The key part of a line (options dropped), or undefined for blanks, comments and junk. */
export function keyPart(line: string): string | undefined {
  const t = line.trim();
  if (!t || t.startsWith("#")) return undefined;
  const first = t.split(/\s+/, 1)[0]!;
  if (keyType.test(first)) return t;
  // Skip the options field: up to the first whitespace outside double quotes.
  let inQuote = false;
  let i = 0;
  for (; i < t.length; i++) {
    const ch = t[i]!;
    if (ch === "\\" && inQuote) { i++; continue; }
    if (ch === '"') inQuote = !inQuote;
    else if (!inQuote && /\s/.test(ch)) break;
  }
  const rest = t.slice(i).trim();
  const type = rest.split(/\s+/, 1)[0] ?? "";
  return keyType.test(type) ? rest : undefined;
}

/** A line that lets the key in only to run the status command, nothing else. */
export function restrictedLine(key: string, command: string): string {
  return `restrict,command="${command}" ${key}`;
}

export function keysOf(text: string): string[] {
  return text.split("\n").map(keyPart).filter((k): k is string => k !== undefined);
}
