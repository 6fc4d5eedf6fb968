import { z } from "zod";

/** "250ms", "2s", "1.5m" or a bare number of milliseconds (Boardswarm writes stabilisation as "2s"). */
export const durationSchema = z
  .union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m)$/, 'a duration such as "500ms", "2s" or "1m"')])
  .transform((v) => {
    if (typeof v === "number") return v;
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/.exec(v)!;
    const n = Number(m[1]);
    return Math.round(m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000);
  });
