/**
 * Records keyed by ids (resources, pools, users, groups, agents, calendars,
 * tags, key ids) meet ids from requests, calendar events and MQTT messages.
 * A plain object answers `"constructor" in o` with true and `o.toString` with
 * a function, so every such lookup goes through `own()` (an own-property
 * check), and the records themselves are made without a prototype when a
 * config file is parsed: both, so one missed lookup is not enough to reach
 * Object.prototype.
 */

/** The value stored under `key` itself, never one inherited from Object.prototype. */
export function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Whether `key` is one of the record's own keys. */
export function hasOwnKey(record: Readonly<Record<string, unknown>> | undefined, key: string): boolean {
  return record !== undefined && Object.hasOwn(record, key);
}

/**
 * A copy of `record` without a prototype. Keys are copied as data properties
 * (assignment onto a null-prototype object has no `__proto__` setter to hit).
 */
export function nullProtoRecord<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const [k, v] of Object.entries(record)) out[k] = v;
  return out;
}

/**
 * Paths of every own `__proto__` key in a parsed document. JSON.parse and the
 * `yaml` package both keep such a key as an own property, but zod drops it
 * from records and objects without a word, so a config or request naming one
 * would silently lose an entry; callers reject these paths instead.
 */
export function protoKeyPaths(value: unknown, path: string[] = [], out: string[][] = [], depth = 0): string[][] {
  if (value === null || typeof value !== "object" || depth > 64) return out;
  if (Array.isArray(value)) {
    value.forEach((v, i) => protoKeyPaths(v, [...path, String(i)], out, depth + 1));
    return out;
  }
  for (const k of Object.keys(value)) {
    if (k === "__proto__") out.push([...path, k]);
    protoKeyPaths((value as Record<string, unknown>)[k], [...path, k], out, depth + 1);
  }
  return out;
}
