import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { durationSchema, parseDuration } from "../duration.ts";
import { ValidationError } from "../errors.ts";
import { hasOwnKey, nullProtoRecord, protoKeyPaths } from "./own.ts";
import { webhookConfigSchema } from "./webhooks.ts";
import { secretName } from "./secret-name.ts";

/**
 * The lab file (labhog.yaml): site, calendars, resources, pools, users,
 * groups, agents. Secrets are never in this file: fields ending in `Secret`
 * name a Worker secret / environment variable that holds the value.
 */

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "ids are letters, digits, '.', '_' or '-' (at most 128), starting with a letter or digit");
/** calendar/duration.ts's grammar; a policy of zero length means nothing. */
const duration = durationSchema({ min: 1 });

const memoryCalendar = z.strictObject({ backend: z.literal("memory") });
const caldavCalendar = z.strictObject({
  backend: z.literal("caldav"),
  /** Server root or the calendar collection itself. */
  url: z.url(),
  /** Collection URL or display name when `url` is a server root (discovery). */
  calendar: z.string().optional(),
  username: z.string().optional(),
  passwordSecret: secretName.optional(),
  /**
   * All resources using this entry share ONE calendar (`calendar`, default:
   * the entry's name) instead of one each; an event names its resource in
   * X-LABHOG-RESOURCE or LOCATION (calendar/backends/one-calendar.ts). For
   * Nextcloud's calendar-creation limits (10 an hour, 30 per user).
   */
  oneCalendar: z.boolean().optional(),
});
const googleCalendar = z.strictObject({
  backend: z.literal("google"),
  calendarId: z.string().min(1),
  /** Worker secret holding the service-account JSON key. */
  credentialsSecret: secretName,
  /**
   * Domain-wide delegation: the Workspace user the service account acts as
   * (JWT `sub`). Without it labhog never sends attendees (Google refuses
   * them from service accounts: 403 forbiddenForServiceAccounts); the holder
   * is in labhog's own fields. See docs/deployment.md.
   */
  subject: z.email().optional(),
  /** Overrides for tests / private deployments. */
  apiRoot: z.url().optional(),
  tokenUrl: z.url().optional(),
});
export const calendarConfigSchema = z.discriminatedUnion("backend", [memoryCalendar, caldavCalendar, googleCalendar]);

export const resourceConfigSchema = z.strictObject({
  name: z.string().optional(),
  kind: z.string().default("host"),
  pool: id.optional(),
  tags: z.record(z.string(), z.string()).default({}),
  agent: id.optional(),
  /** Key in `calendars`; default: the calendar named like the resource, else `default`. */
  calendar: z.string().optional(),
  owner: id.optional(),
  description: z.string().optional(),
});

export const userConfigSchema = z.strictObject({
  name: z.string().optional(),
  email: z.email(),
  unix: z.union([z.string(), z.array(z.string())]).default([]),
  sshKeys: z.array(z.string()).default([]),
  groups: z.array(id).default([]),
});

export const groupConfigSchema = z.strictObject({
  book: z.array(z.string()).default([]),
  admin: z.array(z.string()).default([]),
});

export const agentConfigSchema = z.strictObject({
  /** Worker secret holding the agent's API token hash. */
  tokenSecret: secretName.optional(),
  description: z.string().optional(),
  /** Where the agent's host is reached (name or address): `labhog attach` opens its SSH tunnel there. */
  host: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.:_%-]{0,252}$/, "a host name or address").optional(),
});

export const labConfigSchema = z.strictObject({
  site: id,
  /** IANA zone for floating times and all-day events. */
  timezone: z.string().default("UTC"),
  calendars: z.record(z.string(), calendarConfigSchema).default({ default: { backend: "memory" } }),
  pools: z.record(id, z.strictObject({ name: z.string().optional(), description: z.string().optional() })).default({}),
  resources: z.record(id, resourceConfigSchema),
  users: z.record(id, userConfigSchema).default({}),
  groups: z.record(id, groupConfigSchema).default({}),
  agents: z.record(id, agentConfigSchema).default({}),
  /** Outgoing webhooks by name (calendar/config/webhooks.ts). */
  webhooks: z.record(id, webhookConfigSchema).default({}),
  mqtt: z
    .strictObject({
      url: z.string().regex(/^(wss?|mqtts?):\/\//, "MQTT url must be ws://, wss://, mqtt:// or mqtts://"),
      username: z.string().optional(),
      passwordSecret: secretName.optional(),
      prefix: z.string().optional(),
    })
    .optional(),
  policy: z
    .strictObject({
      syncInterval: duration.default("15s"),
      scheduleWindow: duration.default("24h"),
      /** What agents do when the schedule runs out with no update. */
      onScheduleExpiry: z.enum(["keep", "release"]).default("keep"),
      noShowGrace: duration.optional(),
      maxReservation: duration.default("14d"),
      defaultDuration: duration.default("1h"),
      /** Longest the ledger waits on one calendar call; past it a booking answers 503 and reads answer from the cache. */
      calendarDeadline: duration.default("15s"),
      /** A recurring booking's last occurrence starts at most this long after its first (and it has at most 200). */
      maxSeriesLength: duration.default("366d"),
    })
    .prefault({}),
});

export type LabConfigInput = z.input<typeof labConfigSchema>;
export type LabConfig = z.output<typeof labConfigSchema>;
export type CalendarConfig = z.output<typeof calendarConfigSchema>;

/** Seconds of a duration from the lab file (calendar/duration.ts). */
export function durationSeconds(d: number | string): number {
  return parseDuration(d);
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    // A bad record key ("resources.__lookupGetter__") says why, not just "Invalid key in record".
    .map((i) => `${i.path.length ? i.path.join(".") : "(top level)"}: ${i.code === "invalid_key" ? i.issues.map((k) => k.message).join(", ") : i.message}`)
    .join("; ");
}

/**
 * The id-keyed records without a prototype, so that an id like `constructor`
 * or `toString` is an ordinary id: present when the file defines it, absent
 * otherwise, never Object.prototype's.
 */
function withoutPrototypes(cfg: LabConfig): LabConfig {
  return {
    ...cfg,
    calendars: nullProtoRecord(cfg.calendars),
    pools: nullProtoRecord(cfg.pools),
    resources: nullProtoRecord(Object.fromEntries(Object.entries(cfg.resources).map(([id, r]) => [id, { ...r, tags: nullProtoRecord(r.tags) }]))),
    users: nullProtoRecord(cfg.users),
    groups: nullProtoRecord(cfg.groups),
    agents: nullProtoRecord(cfg.agents),
    webhooks: nullProtoRecord(cfg.webhooks),
  };
}

/** Validates a parsed lab object; cross-references are checked too. */
export function validateLabConfig(input: unknown): LabConfig {
  // zod drops `__proto__` keys silently: a resource, user or tag so named would vanish.
  const protoKeys = protoKeyPaths(input);
  if (protoKeys.length) {
    const where = protoKeys.map((p) => `${p.join(".")}: "__proto__" is not allowed as a name`);
    throw new ValidationError(`lab config invalid: ${where.join("; ")}`, { issues: where });
  }
  const res = labConfigSchema.safeParse(input);
  if (!res.success) throw new ValidationError(`lab config invalid: ${formatIssues(res.error)}`, { issues: res.error.issues });
  const cfg = withoutPrototypes(res.data);
  const problems: string[] = [];
  for (const [rid, r] of Object.entries(cfg.resources)) {
    if (r.pool && !hasOwnKey(cfg.pools, r.pool)) problems.push(`resources.${rid}.pool: unknown pool "${r.pool}"`);
    if (r.agent && Object.keys(cfg.agents).length && !hasOwnKey(cfg.agents, r.agent)) problems.push(`resources.${rid}.agent: unknown agent "${r.agent}"`);
    const cal = r.calendar ?? (hasOwnKey(cfg.calendars, rid) ? rid : "default");
    if (!hasOwnKey(cfg.calendars, cal)) problems.push(`resources.${rid}.calendar: unknown calendar "${cal}"`);
    if (r.owner && !hasOwnKey(cfg.users, r.owner)) problems.push(`resources.${rid}.owner: unknown user "${r.owner}"`);
  }
  for (const [wid, w] of Object.entries(cfg.webhooks)) {
    for (const [i, r] of (w.resources ?? []).entries()) if (!hasOwnKey(cfg.resources, r)) problems.push(`webhooks.${wid}.resources.${i}: unknown resource "${r}"`);
    for (const [i, p] of (w.pools ?? []).entries()) if (!hasOwnKey(cfg.pools, p)) problems.push(`webhooks.${wid}.pools.${i}: unknown pool "${p}"`);
  }
  for (const [uid, u] of Object.entries(cfg.users)) {
    for (const [i, g] of u.groups.entries()) if (!hasOwnKey(cfg.groups, g)) problems.push(`users.${uid}.groups.${i}: unknown group "${g}"`);
  }
  try {
    new Intl.DateTimeFormat("en", { timeZone: cfg.timezone });
  } catch {
    problems.push(`timezone: unknown IANA time zone "${cfg.timezone}"`);
  }
  if (problems.length) throw new ValidationError(`lab config invalid: ${problems.join("; ")}`, { issues: problems });
  return cfg;
}

export function parseLabConfig(yamlText: string): LabConfig {
  let data: unknown;
  try {
    data = parseYaml(yamlText);
  } catch (e) {
    throw new ValidationError(`lab config is not valid YAML: ${(e as Error).message}`);
  }
  return validateLabConfig(data);
}
