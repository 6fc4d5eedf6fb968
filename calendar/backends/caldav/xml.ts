/**
 * Reading tsdav's parsed multistatus (xml-js compact form, names camelCased,
 * prefixes stripped, numeric-looking text turned into numbers) and writing
 * the small XML bodies we send.
 */
import type { DAVResponse } from "tsdav";

/** Text of a parsed element: tsdav may hand a string, a number, or an object with _text/_cdata. */
export function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "object") {
    const o = v as { _text?: unknown; _cdata?: unknown };
    if (o._text !== undefined) return text(o._text);
    if (o._cdata !== undefined) return text(o._cdata);
  }
  return undefined;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * One spelling per resource: servers differ in what they percent-encode
 * (`@`, `:`), so ids are paths with every segment decoded and re-encoded.
 */
export function canonicalPath(hrefOrUrl: string, base: string): string {
  const path = new URL(hrefOrUrl, base).pathname;
  return path
    .split("/")
    .map((seg) => {
      try {
        return encodeURIComponent(decodeURIComponent(seg));
      } catch {
        return seg;
      }
    })
    .join("/");
}

export function hrefOf(r: DAVResponse): string | undefined {
  return text(r.href);
}

/** A property of a response, e.g. prop(r, "getetag"). */
export function prop(r: DAVResponse, name: string): unknown {
  return (r.props as Record<string, unknown> | undefined)?.[name];
}

/** Hrefs inside a property like current-user-principal / calendar-home-set. */
export function hrefsIn(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.flatMap(hrefsIn);
  if (typeof v === "object") {
    const h = (v as { href?: unknown }).href;
    if (h !== undefined) return Array.isArray(h) ? h.map((x) => text(x)).filter((x): x is string => !!x) : [text(h)].filter((x): x is string => !!x);
  }
  return [];
}

/** Does a parsed element contain a child named `name` anywhere below? (resourcetype, supported-report-set) */
export function contains(v: unknown, name: string): boolean {
  if (v === null || typeof v !== "object") return false;
  if (Array.isArray(v)) return v.some((x) => contains(x, name));
  for (const [k, child] of Object.entries(v)) {
    if (k === name) return true;
    if (contains(child, name)) return true;
  }
  return false;
}

/** The multistatus-level sync-token of a sync-collection answer. */
export function multistatusSyncToken(doc: unknown): string | undefined {
  const ms = (doc as { multistatus?: { syncToken?: unknown } } | undefined)?.multistatus;
  return text(ms?.syncToken);
}

/** "20300101T090000Z" for CalDAV time-range. */
export function davUtc(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** Content lines of an iCalendar text, unfolded, in a canonical order: for "is this what we wrote?" after servers reorder properties. */
export function icsFingerprint(ics: string): string {
  return ics
    .replace(/\r\n/g, "\n")
    .replace(/\n[ \t]/g, "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^PRODID[:;]/i.test(l))
    .sort()
    .join("\n");
}
