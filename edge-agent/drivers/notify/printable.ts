/** Schedule text shown on terminals: control characters (escape sequences) removed, length capped. */
export function printable(s: string, max = 120): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "").slice(0, max);
}
