import { z } from "@hono/zod-openapi";
import { DURATION_ACCEPTED, tryParseDuration } from "../../calendar/duration.ts";
import { ValidationError } from "../../calendar/errors.ts";

/**
 * A notice: a short message from an admin (or the holder) to everyone on a
 * resource. It reaches the host (motd, wall, tmux, inside the signed
 * schedule), the status page and the resource's calendar (a transparent
 * event), and it ends by itself at `until`.
 */
export interface Notice {
  id: string;
  text: string;
  /** When it ends (UTC ISO). */
  until: string;
  /** Who sent it (principal id). */
  by: string;
  createdAt: string;
}

export const NOTICE_MAX_CHARS = 500;
export const NOTICE_DEFAULT_MS = 24 * 3600_000;
export const NOTICE_MAX_MS = 30 * 86_400_000;
/** Notices standing on one resource at once: the schedule carries them all. */
export const NOTICES_PER_RESOURCE = 20;

/**
 * Printable: no control characters (a newline or an escape sequence would
 * reach terminals through wall and motd), no lone surrogates, no bidi
 * overrides that make a terminal show something else than was sent.
 */
const UNPRINTABLE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udfff]/u;
export const isPrintable = (s: string): boolean => !UNPRINTABLE.test(s.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""));

export const NoticeBodySchema = z
  .strictObject({
    text: z
      .string()
      .min(1)
      .max(NOTICE_MAX_CHARS)
      .refine((s) => s.trim().length > 0, "text is blank")
      .refine(isPrintable, "text must be printable: no control characters (newlines, escapes) or bidi overrides")
      .openapi({ example: "rebooting for a firmware update at 14:00" }),
    resources: z.array(z.string().min(1).max(128)).min(1).max(500).optional().openapi({ description: "the resources it is for" }),
    pool: z.string().min(1).max(128).optional().openapi({ description: "every resource of this pool" }),
    all: z.literal(true).optional().openapi({ description: "every resource of the lab" }),
    until: z.string().min(1).max(64).optional().openapi({ description: `when it ends: an ISO date-time with offset, or a duration from now (${DURATION_ACCEPTED}); default 24h, at most 30 days` }),
  })
  .refine((b) => [b.resources !== undefined, b.pool !== undefined, b.all === true].filter(Boolean).length === 1, { message: "say what it is for: exactly one of resources, pool or all", path: ["resources"] })
  .openapi("NoticeRequest");

export const NoticeSchema = z
  .object({
    id: z.string(),
    text: z.string(),
    until: z.string().openapi({ format: "date-time" }),
    by: z.string(),
    createdAt: z.string().openapi({ format: "date-time" }),
    resources: z.array(z.string()),
  })
  .openapi("Notice");

export const NoticeListSchema = z.object({ notices: z.array(NoticeSchema) }).openapi("NoticeList");
export const NoticeIdParamSchema = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) });
export const NoticeQuerySchema = z.object({ resource: z.string().min(1).max(128).optional() });

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/** `until` as an instant: an ISO date-time with offset, or a duration from now (calendar/duration.ts); default 24 h, at most 30 days, in the future. */
export function noticeUntil(until: string | undefined, now: number): string {
  let at: number;
  if (until === undefined) at = now + NOTICE_DEFAULT_MS;
  else if (ISO_WITH_OFFSET.test(until.trim())) at = Date.parse(until.trim());
  else {
    const s = tryParseDuration(until);
    if (s === undefined) throw new ValidationError(`until "${until}" is neither an ISO date-time with offset nor a duration (${DURATION_ACCEPTED})`, { path: "body.until" });
    at = now + Math.round(s * 1000);
  }
  if (!Number.isFinite(at)) throw new ValidationError(`until "${until}" is not a date`, { path: "body.until" });
  if (at <= now) throw new ValidationError("until must be in the future", { path: "body.until" });
  if (at - now > NOTICE_MAX_MS) throw new ValidationError("a notice lasts at most 30 days", { path: "body.until" });
  return new Date(at).toISOString();
}

/** Notice ids are ours (random); anything else is refused before it reaches a ledger. */
export const NOTICE_ID = /^n-[0-9a-f]{32}$/;
export const newNoticeId = (): string => `n-${crypto.randomUUID().replace(/-/g, "")}`;
