import { z } from "@hono/zod-openapi";
import { durationSchema, parseDurationMs } from "../../calendar/duration.ts";
import { NoticeSchema } from "../notices/model.ts";

const NoticeOnResourceSchema = NoticeSchema.omit({ resources: true });

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "letters, digits, '.', '_' or '-' (at most 128)");
const dateTime = z.iso.datetime({ offset: true, message: "an ISO 8601 date-time with offset, like 2026-05-01T09:00:00Z" });
/** calendar/duration.ts's grammar: 90 (seconds), "90s", "30m", "2h", "1d", "1h30m" or ISO 8601 like PT2H30M. */
export const durationInput = durationSchema({ min: 1, max: 366 * 86_400 });

export function durationMs(d: number | string): number {
  return parseDurationMs(d);
}

const image = z.string().max(4096).regex(/^[A-Za-z0-9._~:/+@%=-]+$/, "image reference has characters that are not allowed");
const mode = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, "a mode is lower-case letters, digits, '_' or '-'");
const tagFilter = z.record(z.string().max(64).regex(/^[A-Za-z0-9._-]+$/, "tag names are letters, digits, '.', '_' or '-'"), z.string().max(256));

export const HolderSchema = z
  .object({ id: z.string().nullable(), raw: z.string(), problem: z.string().optional() })
  .openapi("Holder");

export const ReservationSchema = z
  .object({
    id: z.string().openapi({ description: "`<resource>:<event id>`; use it in the reservation URLs (URL-encoded)" }),
    uid: z.string(),
    recurrenceId: z.string().optional(),
    resource: z.string(),
    holder: HolderSchema,
    start: z.string(),
    end: z.string(),
    exclusive: z.boolean(),
    purpose: z.string(),
    image: z.string().optional(),
    mode: z.string().optional(),
    source: z.enum(["api", "calendar"]),
    state: z.enum(["upcoming", "active", "ended", "conflict"]),
    conflictWith: z.array(z.string()).optional(),
    created: z.string().optional(),
    leaseTtl: z.number().optional(),
    usage: z.unknown().optional(),
    allDay: z.boolean().optional(),
  })
  .openapi("Reservation");

/** GET of one reservation: the reservation plus the freshness of the answer, as on lists. */
export const ReservationReadSchema = ReservationSchema.extend({
  lastSync: z.string().nullable().openapi({ description: "the ledger's last good calendar sync" }),
  stale: z.boolean().openapi({ description: "true when the calendar can't be reached and this is the cached view" }),
}).openapi("ReservationRead");

export const AgentStateSchema = z
  .object({
    id: z.string(),
    status: z.enum(["online", "offline", "unknown"]),
    lastSeen: z.string().nullable(),
    host: z.string().nullable().optional().openapi({ description: "the agent's host from the lab file (agents.<id>.host), where `labhog attach` opens its SSH tunnel" }),
  })
  .openapi("AgentState");

export const EnforcementSchema = z
  .object({
    ok: z.boolean().nullable().openapi({ description: "true: every driver on the host applied the booking in the agent's latest attempt; false: something failed (see problems; the agent retries with backoff); null: unknown: the agent has not reported it, or it is offline (problems, since and at then describe its last report)" }),
    problems: z.array(z.string()).openapi({ description: "what is not in place, `<driver>: <reason>`; empty unless ok is false" }),
    since: z.string().nullable().openapi({ description: "when ok took its current value" }),
    at: z.string().nullable().openapi({ description: "when the agent reached this verdict" }),
  })
  .openapi("Enforcement");

export const ResourceSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.string(),
    pool: z.string().nullable(),
    tags: z.record(z.string(), z.string()),
    agent: AgentStateSchema.nullable(),
    usage: z.unknown().openapi({ description: "latest usage snapshot the agent reported" }),
    usageAt: z.string().nullable(),
    enforcement: EnforcementSchema.openapi({ description: "whether the booking is in place on the host, as its agent last reported it (…/agents/<agent>/enforcement)" }),
    current: z.array(ReservationSchema),
    next: ReservationSchema.nullable(),
    unbookedUse: ReservationSchema.nullable().openapi({ description: "someone using it without a booking (a transparent 'unbooked use by …' event); not a reservation" }),
    conflicts: z.number().int(),
    lastSync: z.string().nullable().openapi({ description: "the ledger's last good calendar sync" }),
    stale: z.boolean().openapi({ description: "true when the last good sync is older than a few sync intervals: the calendar can't be reached and this is the cached view" }),
    unreachableSince: z.string().nullable().openapi({ description: "since when calendar syncs have been failing, or null" }),
    notices: z.array(NoticeOnResourceSchema).openapi({ description: "standing notices on the resource (POST /api/v1/notices)" }),
    syncing: z.literal(true).optional().openapi({ description: "lists only: the resource's ledger had not answered within the list's wait (it is waking and reading its calendar for the first time); nothing here is known (current is empty, stale is true): ask again shortly" }),
  })
  .openapi("Resource");

export const ResourceListSchema = z.object({ resources: z.array(ResourceSchema) }).openapi("ResourceList");

export const ResourceQuerySchema = z.strictObject({
  pool: id.optional(),
  tag: z.union([z.string().max(300), z.array(z.string().max(300)).max(16)]).optional().openapi({ description: "k=v, repeatable" }),
});

export const ReservationQuerySchema = z.strictObject({
  resource: id.optional(),
  pool: id.optional(),
  holder: id.optional(),
  from: dateTime.optional().openapi({ description: "default: now" }),
  to: dateTime.optional().openapi({ description: "default: from + 7 days" }),
});

export const ReservationListSchema = z
  .object({
    reservations: z.array(ReservationSchema),
    lastSync: z.string().nullable().openapi({ description: "the oldest last good calendar sync of the resources listed" }),
    stale: z.boolean().openapi({ description: "true when any resource listed answered from a cache older than a few sync intervals (its calendar can't be reached)" }),
  })
  .openapi("ReservationList");

const weekday = z.enum(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]);

/** A recurring booking's rule (RFC 5545 RRULE parts). Unbounded series are refused: until or count. */
export const RepeatSchema = z
  .strictObject({
    freq: z.enum(["daily", "weekly", "monthly"]),
    byDay: z.array(weekday).min(1).max(7).optional().openapi({ description: "weekly only: the days, like [\"TU\", \"TH\"]; the series starts on the first of them at or after start" }),
    interval: z.number().int().min(1).max(52).optional().openapi({ description: "every interval-th day/week/month (default 1)" }),
    until: z
      .union([z.iso.date({ message: "a date like 2027-03-01" }), dateTime])
      .optional()
      .openapi({ description: "last day (in the lab's zone, inclusive) or last start instant" }),
    count: z.number().int().min(1).max(200).optional().openapi({ description: "number of occurrences (at most 200)" }),
  })
  .superRefine((v, ctx) => {
    if ((v.until === undefined) === (v.count === undefined)) ctx.addIssue({ code: "custom", path: ["until"], message: "give until or count (exactly one): unbounded series are refused" });
    if (v.byDay && v.freq !== "weekly") ctx.addIssue({ code: "custom", path: ["byDay"], message: "byDay goes with freq weekly" });
    if (v.byDay && new Set(v.byDay).size !== v.byDay.length) ctx.addIssue({ code: "custom", path: ["byDay"], message: "a day is named twice" });
  })
  .openapi("Repeat");

export const CreateReservationSchema = z
  .strictObject({
    resource: id.optional().openapi({ description: "book this resource" }),
    resources: z.array(id).min(1).max(32).optional().openapi({ description: "book all of these, atomically (all or none)" }),
    pool: id.optional().openapi({ description: "book any free member of this pool" }),
    tags: tagFilter.optional().openapi({ description: "book any free resource with all these tags" }),
    start: dateTime.optional().openapi({ description: "default: now" }),
    end: dateTime.optional(),
    duration: durationInput.optional().openapi({ description: "instead of end; default: the lab's defaultDuration" }),
    exclusive: z.boolean().default(true),
    purpose: z.string().max(500).default(""),
    image: image.optional(),
    mode: mode.optional(),
    holder: id.optional().openapi({ description: "book for someone else (admins only)" }),
    lease: z.strictObject({ ttl: z.number().int().min(10).max(86_400) }).optional().openapi({ description: "ends by itself ttl seconds after the last keep-alive" }),
    wait: z.number().int().min(0).max(600).default(0).openapi({ description: "seconds to wait for the slot to free up" }),
    repeat: RepeatSchema.optional().openapi({ description: "a recurring booking (one resource, a start): start/end or duration give the first occurrence" }),
    skipConflicts: z.boolean().default(false).openapi({ description: "with repeat: leave out (EXDATE) the occurrences that conflict, if at most half do" }),
  })
  .superRefine((v, ctx) => {
    if (v.repeat) {
      if (v.resource === undefined) ctx.addIssue({ code: "custom", path: ["repeat"], message: "a recurring booking names one resource" });
      if (v.start === undefined) ctx.addIssue({ code: "custom", path: ["start"], message: "a recurring booking needs a start" });
      if (v.lease !== undefined) ctx.addIssue({ code: "custom", path: ["lease"], message: "a recurring booking can't be a lease" });
      if (v.wait !== 0) ctx.addIssue({ code: "custom", path: ["wait"], message: "a recurring booking does not wait" });
    } else if (v.skipConflicts) ctx.addIssue({ code: "custom", path: ["skipConflicts"], message: "skipConflicts goes with repeat" });
    const targets = [v.resource, v.resources, v.pool, v.tags].filter((x) => x !== undefined).length;
    if (targets !== 1) ctx.addIssue({ code: "custom", path: ["resource"], message: "give exactly one of resource, resources, pool or tags" });
    if (v.end !== undefined && v.duration !== undefined) ctx.addIssue({ code: "custom", path: ["duration"], message: "give end or duration, not both" });
    if (v.tags && Object.keys(v.tags).length === 0) ctx.addIssue({ code: "custom", path: ["tags"], message: "give at least one tag" });
  })
  .openapi("CreateReservation");

export const CreatedSchema = z
  .object({
    reservation: ReservationSchema,
    reservations: z.array(ReservationSchema),
    grantedAt: z.string(),
    waited: z.number().openapi({ description: "seconds spent waiting for the slot" }),
    skipped: z.array(z.string()).optional().openapi({ description: "with repeat: original starts (ISO UTC) of the occurrences left out because they conflicted" }),
  })
  .openapi("Created");

export const ScopeQuerySchema = z.strictObject({
  scope: z.enum(["this", "following"]).default("this").openapi({ description: "for an occurrence of a series: this one only, or this and the following ones (a new series from here)" }),
});

export const ChangeReservationSchema = z
  .strictObject({
    start: dateTime.optional().openapi({ description: "move (upcoming only)" }),
    end: dateTime.optional().openapi({ description: "extend or shorten" }),
    duration: durationInput.optional().openapi({ description: "new length from the (new) start" }),
    extendBy: durationInput.optional(),
    purpose: z.string().max(500).optional(),
  })
  .superRefine((v, ctx) => {
    if (Object.keys(v).length === 0) ctx.addIssue({ code: "custom", path: [], message: "nothing to change" });
    const ends = [v.end, v.duration, v.extendBy].filter((x) => x !== undefined).length;
    if (ends > 1) ctx.addIssue({ code: "custom", path: ["end"], message: "give at most one of end, duration or extendBy" });
  })
  .openapi("ChangeReservation");

export const IdParamSchema = z.strictObject({
  id: z.string().min(3).max(2048).openapi({ param: { name: "id", in: "path" }, example: "rock5b-1:labhog-1234" }),
});
export const ResourceIdParamSchema = z.strictObject({ id: id.openapi({ param: { name: "id", in: "path" }, example: "rock5b-1" }) });

export const LeaseSchema = z.object({ id: z.string(), ttl: z.number(), expiresAt: z.string() }).openapi("Lease");

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    conflicts: z.array(z.object({ id: z.string(), holder: z.string().nullable(), start: z.string(), end: z.string() })).optional(),
    nextFree: z.object({ start: z.string(), end: z.string() }).nullable().optional(),
    conflictingDates: z.array(z.string()).optional().openapi({ description: "recurring booking refused: the starts of the occurrences that conflict" }),
    occurrences: z.number().int().optional().openapi({ description: "recurring booking refused: how many occurrences the series has" }),
    refusedAsWhole: z.boolean().optional().openapi({ description: "true: more than half of the occurrences conflict, so skipConflicts does not help" }),
  })
  .openapi("Problem");

export const MeSchema = z
  .object({
    kind: z.enum(["user", "agent"]),
    id: z.string(),
    via: z.string(),
    email: z.string().nullable(),
    book: z.array(z.string()).openapi({ description: "resources the caller may book" }),
    admin: z.array(z.string()).openapi({ description: "resources the caller administers" }),
  })
  .openapi("Me");
