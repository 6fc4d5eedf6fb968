import { z } from "zod";

/** A field that names a Worker secret (or environment variable) holding the value: secrets never stand in the lab file. */
export const secretName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, "a secret name is UPPER_SNAKE_CASE");
