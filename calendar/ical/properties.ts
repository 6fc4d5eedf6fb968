import ICAL from "ical.js";

/** labhog's own properties on a VEVENT (design: "Calendar mapping"). */
export const X = {
  holder: "x-labhog-holder",
  exclusive: "x-labhog-exclusive",
  image: "x-labhog-image",
  mode: "x-labhog-mode",
  state: "x-labhog-state",
  leaseTtl: "x-labhog-lease-ttl",
  usage: "x-labhog-usage",
  conflictWith: "x-labhog-conflict-with",
  /** The live-usage line labhog put at the top of DESCRIPTION, so it can be replaced without touching the user's text. */
  live: "x-labhog-live",
  /** `notice`: an informational event labhog wrote (worker/ledger/notices.ts), never a reservation. */
  kind: "x-labhog-kind",
} as const;

export const CONFLICT_PREFIX = "[conflict] ";
export const PRODID = "-//labhog//labhog 0.1//EN";
/** Usage snapshots mirrored into an event are small; anything bigger is a bug upstream. */
export const MAX_USAGE_CHARS = 16_384;

// Unknown X- properties are read raw by ical.js (no unescaping of "\,", "\n"),
// so declare ours as TEXT: values round-trip whatever characters they hold,
// and a newline in a purpose can never start a new property.
const design = ICAL.design.icalendar.property as Record<string, { defaultType: string }>;
for (const name of Object.values(X)) design[name] = { defaultType: "text" };

export function text(c: ICAL.Component | undefined, name: string): string | undefined {
  if (!c) return undefined;
  const v = c.getFirstPropertyValue(name);
  if (v === null || v === undefined) return undefined;
  return typeof v === "string" ? v : String(v);
}

export function setText(c: ICAL.Component, name: string, value: string | undefined): void {
  if (value === undefined) {
    c.removeAllProperties(name);
    return;
  }
  const p = c.getFirstProperty(name);
  if (p) {
    c.removeAllProperties(name);
  }
  const np = new ICAL.Property(name, c);
  np.resetType("text");
  np.setValue(value);
  c.addProperty(np);
}

/** "mailto:Alice@Example.org" → "alice@example.org" (undefined for non-mailto addresses). */
export function emailOf(calAddress: unknown): string | undefined {
  if (typeof calAddress !== "string") return undefined;
  const v = calAddress.trim();
  const m = /^mailto:(.+)$/i.exec(v);
  const addr = (m ? m[1]! : v).trim();
  return /^[^\s@]+@[^\s@]+$/.test(addr) ? addr.toLowerCase() : undefined;
}

export function stripConflictPrefix(summary: string): string {
  let s = summary;
  while (s.startsWith(CONFLICT_PREFIX)) s = s.slice(CONFLICT_PREFIX.length);
  return s;
}
