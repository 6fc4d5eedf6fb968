import { ValidationError } from "../../errors.ts";
import { X } from "../../ical/properties.ts";

/**
 * labhog's own iCalendar properties (X-LABHOG-*) live in a Google event's
 * extendedProperties.private under the property name, e.g.
 * `{"X-LABHOG-HOLDER": "alice"}`. The value is kept as the raw iCalendar
 * value text (whatever escaping its writer used), so ICS → Google → ICS gives
 * back the very same bytes.
 *
 * Google's limits ("Extended properties" guide): a key longer than 44
 * characters is dropped and a value longer than 1024 characters is cut,
 * both silently; at most 300 properties and 32 kB per event. So nothing is
 * sent that Google would alter: a longer key or value is a ValidationError
 * here, before any request, except for a repeated property (below).
 *
 * A property that repeats (X-LABHOG-CONFLICT-WITH, one per winner) is one
 * key whose value holds the occurrences separated by line breaks (a raw
 * iCalendar value can hold none), so they don't collapse into the last one.
 * When they don't fit in 1024 characters, the first ones that fit are kept
 * and the caller is told how many were dropped.
 */
export const LABHOG_PREFIX = "X-LABHOG-";
export const MAX_KEY_CHARS = 44;
export const MAX_VALUE_CHARS = 1024;

/** Every property name labhog writes, upper-case (to clear the absent ones on a patch). */
export const KNOWN_LABHOG_KEYS: readonly string[] = Object.values(X).map((n) => n.toUpperCase());
const REPEATABLE = new Set([X.conflictWith.toUpperCase()]);

export function isLabhogProperty(name: string): boolean {
  return name.toUpperCase().startsWith(LABHOG_PREFIX);
}

export interface PackedProperties {
  values: Record<string, string>;
  /** Occurrences of repeated properties left out for lack of room. */
  dropped: number;
}

/** X-LABHOG-* properties (name, raw value, in order) as extendedProperties.private. */
export function packLabhogProperties(props: Array<[name: string, raw: string]>): PackedProperties {
  const grouped = new Map<string, string[]>();
  for (const [name, raw] of props) {
    const key = name.toUpperCase();
    if (key.length > MAX_KEY_CHARS) {
      throw new ValidationError(`${key} is ${key.length} characters long; Google drops extended-property keys longer than ${MAX_KEY_CHARS}`, { property: key });
    }
    const list = grouped.get(key) ?? [];
    list.push(raw);
    grouped.set(key, list);
  }
  const values: Record<string, string> = {};
  let dropped = 0;
  for (const [key, list] of grouped) {
    if (list.length > 1 && REPEATABLE.has(key)) {
      let joined = "";
      let kept = 0;
      for (const v of list) {
        const next = kept ? `${joined}\n${v}` : v;
        if (next.length > MAX_VALUE_CHARS) break;
        joined = next;
        kept++;
      }
      dropped += list.length - kept;
      if (kept) values[key] = joined;
      continue;
    }
    const v = list[list.length - 1]!;
    if (v.length > MAX_VALUE_CHARS) {
      throw new ValidationError(`${key} is ${v.length} characters; Google cuts extended-property values after ${MAX_VALUE_CHARS}`, { property: key });
    }
    values[key] = v;
  }
  return { values, dropped };
}

/** The iCalendar property lines one stored key stands for (a repeated property comes back as several). */
export function unpackLabhogProperty(key: string, value: string): string[] {
  const name = key.toUpperCase();
  if (REPEATABLE.has(name)) return value.split(/\r\n|\r|\n/).filter((v) => v.length > 0).map((v) => `${name}:${v}`);
  return [`${name}:${value.replace(/\r\n|\r|\n/g, "\\n")}`];
}
