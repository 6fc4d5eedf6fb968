import type { z } from "zod";

/** Dotted paths of every field of a zod (v4) schema: record keys as `*`, array items as `[]`. */
export function fieldPaths(schema: z.ZodType, prefix = ""): string[] {
  const def = (schema as any)._zod.def;
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
      return fieldPaths(def.innerType, prefix);
    case "pipe":
      return fieldPaths(def.in, prefix);
    case "object":
      return Object.entries(def.shape as Record<string, z.ZodType>).flatMap(([k, v]) => {
        const p = prefix ? `${prefix}.${k}` : k;
        return [p, ...fieldPaths(v, p)];
      });
    case "record":
      return fieldPaths(def.valueType, `${prefix}.*`);
    case "array":
      return fieldPaths(def.element, `${prefix}[]`);
    case "union":
      return [...new Set((def.options as z.ZodType[]).flatMap((o) => fieldPaths(o, prefix)))];
    case "intersection":
      return [...fieldPaths(def.left, prefix), ...fieldPaths(def.right, prefix)];
    default:
      return [];
  }
}
