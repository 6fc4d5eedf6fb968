/**
 * The small async key-value storage the memory backend (and the caldav
 * backend's ctag fallback) keep their state in. Shaped like Durable Object
 * storage (`get`/`put`/`delete`/`list({ prefix, start })`), so a
 * `DurableObjectStorage` can be passed as is; values must be structured-clone
 * (JSON) safe.
 */
export interface KeyValueStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** Entries whose key starts with `prefix` (and is ≥ `start`), in key order. */
  list<T = unknown>(options: { prefix: string; start?: string }): Promise<Map<string, T>>;
}

/** A KeyValueStore in a Map: the default for Node, tests and one-off use. */
export class MapStore implements KeyValueStore {
  readonly #map = new Map<string, unknown>();

  async get<T>(key: string): Promise<T | undefined> {
    // Copy out, as Durable Object storage does: callers may mutate what they get.
    return structuredClone(this.#map.get(key)) as T | undefined;
  }

  async put<T>(key: string, value: T): Promise<void> {
    this.#map.set(key, structuredClone(value));
  }

  async delete(key: string): Promise<boolean> {
    return this.#map.delete(key);
  }

  async list<T>(options: { prefix: string; start?: string }): Promise<Map<string, T>> {
    const keys = [...this.#map.keys()]
      .filter((k) => k.startsWith(options.prefix) && (options.start === undefined || k >= options.start))
      .sort();
    return new Map(keys.map((k) => [k, structuredClone(this.#map.get(k)) as T]));
  }

  get size(): number {
    return this.#map.size;
  }
}
