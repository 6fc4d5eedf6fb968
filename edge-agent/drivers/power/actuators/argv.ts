import { z } from "zod";

/** A program and its arguments, never a shell string. The program itself may not be a placeholder. */
export const argvSchema = z
  .array(z.string())
  .min(1)
  .refine((a) => a[0] !== undefined && a[0].length > 0 && !a[0].includes("{"), "argv[0] must name a program, not a placeholder");
