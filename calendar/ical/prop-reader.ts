import type ICAL from "ical.js";

/**
 * The few questions mapping asks of an event's descriptive properties (who
 * holds it, its purpose, labhog's X- properties), answerable from an
 * ICAL.Component or straight from the jCal arrays ICAL.parse returns. One
 * reading of those properties (calendar/ical/describe.ts) then serves the
 * full ical.js path and the jCal fast path (calendar/ical/fast-read.ts) alike.
 */
export interface PropReader {
  /** The first value of the first property `name`, as ICAL.Property#getFirstValue returns it. */
  first(name: string): unknown;
  /** The first value of every property `name`, in order. */
  firsts(name: string): unknown[];
  has(name: string): boolean;
}

export function componentReader(c: ICAL.Component): PropReader {
  return {
    first: (name) => c.getFirstPropertyValue(name),
    firsts: (name) => c.getAllProperties(name).map((p) => p.getFirstValue()),
    has: (name) => c.hasProperty(name),
  };
}

/**
 * Thrown by jcalReader when a value would need ical.js to decode it: the
 * fast path gives up on that object. One shared value, not an Error: giving
 * up is common enough that a stack trace each time would cost.
 */
export const NOT_FAST: unique symbol = Symbol("not on the fast path");

/**
 * Value types whose jCal value is what ical.js hands out as is (no decorate
 * step: text is already unescaped by ICAL.parse). Any other type on a
 * property read through jcalReader sends the object to ical.js.
 */
const RAW_TYPES = new Set(["text", "cal-address", "unknown", "uri", "integer"]);

/** A reader over one component's jCal property list (`[name, params, type, value…]` each). */
export function jcalReader(props: readonly unknown[]): PropReader {
  // A literal of shared functions, not a class or closures: one is made per
  // event on the fast path, and a literal's shape lives with the code (V8
  // drops a class instance's shape, and the code compiled for it, once a full
  // GC finds no instance left).
  return { props: props as readonly unknown[][], first: jFirst, firsts: jFirsts, has: jHas } as JcalReader;
}

interface JcalReader extends PropReader {
  readonly props: readonly unknown[][];
}

function jFirst(this: JcalReader, name: string): unknown {
  for (const p of this.props) if (p[0] === name) return raw(p);
  return null;
}

function jFirsts(this: JcalReader, name: string): unknown[] {
  const out: unknown[] = [];
  for (const p of this.props) if (p[0] === name) out.push(raw(p));
  return out;
}

function jHas(this: JcalReader, name: string): boolean {
  for (const p of this.props) if (p[0] === name) return true;
  return false;
}

function raw(p: unknown[]): unknown {
  if (!RAW_TYPES.has(p[2] as string)) throw NOT_FAST;
  // ical.js reads a property written without a value as null.
  return p.length > 3 ? p[3] : null;
}

/** A property's value as text, the way mapping reads it (undefined when absent). */
export function textOf(r: PropReader | undefined, name: string): string | undefined {
  if (!r) return undefined;
  const v = r.first(name);
  if (v === null || v === undefined) return undefined;
  return typeof v === "string" ? v : String(v);
}
