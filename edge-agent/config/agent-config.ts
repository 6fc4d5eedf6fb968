import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import type { JWK } from "jose";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { durationSchema, parseDurationMs } from "../../calendar/duration.ts";
import { ValidationError } from "../../calendar/errors.ts";
import { protoKeyPaths } from "../../calendar/config/own.ts";

/**
 * The agent's own file (agent.yaml): who it is, which broker, which keys it
 * trusts, which resources it serves and how each is driven. The per-resource
 * `power`, `usb` and `usage` sections are validated by the schemas their
 * drivers export; they are passed in so this file does not depend on which
 * drivers are installed (see agent/driver-modules.ts).
 */

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "ids are letters, digits, '.', '_' or '-' (at most 128), starting with a letter or digit");
const unixLogin = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "not a valid unix login");
const unitName = z.string().regex(/^[A-Za-z0-9@:._\\-]+\.(service|socket|timer|target|path|mount|scope)$/, "not a systemd unit name (like foo.service)");
/** Goes into an authorized_keys `command="…"` option: no quotes, backslashes or newlines. */
const safeCommand = z.string().min(1).regex(/^[^"\\\r\n]+$/, "may not contain quotes, backslashes or newlines");
const absPath = z.string().refine((p) => isAbsolute(p), "must be an absolute path");
/** calendar/duration.ts's grammar, as everywhere. */
const duration = durationSchema();

export function durationMs(d: number | string): number {
  return parseDurationMs(d);
}

const publicJwk = z.looseObject({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string().min(1) }).refine((k) => !("d" in k), "this is a PRIVATE key: agents only need the public key");
const trustedKey = z.union([publicJwk, z.strictObject({ file: z.string() })]);

export const hogOptionsSchema = z.strictObject({
  /** Never locked out, besides root (uid 0) and `admins`. */
  exemptUsers: z.array(unixLogin).default([]),
  admins: z.array(unixLogin).default([]),
  /** Override sshd's AuthorizedKeysFile (same syntax: %h %u %%, several separated by spaces). */
  authorizedKeysFile: z.string().optional(),
  /** sshd_config to resolve AuthorizedKeysFile from (`sshd -T -f`, then parsing it). */
  sshdConfig: absPath.default("/etc/ssh/sshd_config"),
  sshdPath: z.string().default("sshd"),
  passwdFile: absPath.default("/etc/passwd"),
  /** What a locked-out user's key runs; the agent appends `--file <summary>` when stateDir is not the default. */
  statusCommand: safeCommand.default("labhog status"),
  stopUnits: z.array(unitName).default([]),
  /** Warn other users' terminal sessions at the start, end them after this long; `off`: leave sessions alone. */
  sessionGrace: durationSchema({ words: ["off"] }).default("10m"),
});

export const notifyOptionsSchema = z.strictObject({
  /** The motd snippet with today's reservations; set to false to skip. */
  motd: z.union([absPath, z.literal(false)]).default("/etc/motd.d/labhog"),
  wall: z.boolean().default(true),
  tmux: z.boolean().default(true),
  /** How long before the end to remind the holder. */
  endingSoon: duration.default("10m"),
});

export interface DriverSchemas {
  power?: z.ZodType;
  usb?: z.ZodType;
  access?: z.ZodType;
  console?: z.ZodType;
  usage?: z.ZodType;
}

function resourceSchema(ext: DriverSchemas) {
  return z.strictObject({
    id,
    /** Lock SSH to the holder (default for kind host). */
    hog: z.boolean().optional(),
    kind: z.string().default("host"),
    notify: z.boolean().default(true),
    power: (ext.power ?? z.unknown()).optional(),
    usb: (ext.usb ?? z.unknown()).optional(),
    /** Device ACLs for the holder (boards on shared hosts). */
    access: (ext.access ?? z.unknown()).optional(),
    /** The board's serial console, relayed to the holder through the Worker. */
    console: (ext.console ?? z.unknown()).optional(),
    usage: (ext.usage ?? z.unknown()).optional(),
  });
}

export function agentConfigSchema(ext: DriverSchemas = {}) {
  return z
    .strictObject({
      agent: id,
      site: id,
      /** Default `labhog/<site>`. */
      topicPrefix: z.string().regex(/^[^#+]+[^/#+]$/, "a topic prefix has no wildcards and no trailing '/'").optional(),
      broker: z.strictObject({
        url: z.string().regex(/^(mqtt|mqtts|ws|wss):\/\/.+/, "broker url must start with mqtt://, mqtts://, ws:// or wss://"),
        username: z.string().optional(),
        password: z.string().optional(),
        passwordFile: z.string().optional(),
        /** PEM file with the CA that signed the broker's certificate. */
        ca: z.string().optional(),
        clientId: z.string().optional(),
      }).refine((b) => !(b.password !== undefined && b.passwordFile !== undefined), "give password or passwordFile, not both"),
      /** Public JWKs by kid (inline, or `{file: path}` to a JWK JSON file). */
      trustedKeys: z.record(z.string().min(1), trustedKey).refine((k) => Object.keys(k).length > 0, "at least one trusted key is needed"),
      resources: z.array(resourceSchema(ext)).min(1, "an agent serves at least one resource"),
      hog: hogOptionsSchema.default(hogOptionsSchema.parse({})),
      notify: notifyOptionsSchema.default(notifyOptionsSchema.parse({})),
      onScheduleExpiry: z.enum(["keep", "release"]).default("keep"),
      /** Also goes into locked-out users' `command="…"`: plain path characters only. */
      stateDir: absPath.regex(/^[A-Za-z0-9._\/-]+$/, "only letters, digits, '.', '_', '-' and '/'").default("/var/lib/labhog"),
      /** Shown by `labhog status` to locked-out users. */
      statusUrl: z.url().optional(),
      worker: z.strictObject({ url: z.url(), token: z.string().optional(), tokenFile: z.string().optional() }).optional(),
    })
    .superRefine((c, ctx) => {
      const seen = new Set<string>();
      c.resources.forEach((r, i) => {
        if (seen.has(r.id)) ctx.addIssue({ code: "custom", path: ["resources", i, "id"], message: `resource ${r.id} is listed twice` });
        seen.add(r.id);
      });
    });
}

type Raw = z.infer<ReturnType<typeof agentConfigSchema>>;
export type ResourceConfig = Raw["resources"][number] & { hog: boolean };
export type HogOptions = z.infer<typeof hogOptionsSchema>;
export type NotifyOptions = z.infer<typeof notifyOptionsSchema>;

/** The validated config with files read and defaults resolved. */
export interface AgentConfig extends Omit<Raw, "trustedKeys" | "resources" | "topicPrefix" | "broker" | "worker"> {
  topicPrefix: string;
  broker: { url: string; username?: string; password?: string; ca?: string; clientId?: string };
  trustedKeys: Record<string, JWK>;
  resources: ResourceConfig[];
  worker?: { url: string; token?: string };
  /** Where the config was read from (relative paths are relative to it). */
  source: string;
}

/** `file: resources[0].id: message; broker.url: message` */
function formatIssues(err: z.ZodError, source: string): string {
  return `${source}: ` + err.issues
    .map((i) => {
      const path = i.path.length ? i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "") : "(top level)";
      return `${path}: ${i.message}`;
    })
    .join("; ");
}

async function readRelative(base: string, p: string, what: string): Promise<string> {
  const full = isAbsolute(p) ? p : resolve(dirname(base), p);
  try {
    return await readFile(full, "utf8");
  } catch (e) {
    throw new ValidationError(`${base}: ${what}: cannot read ${full}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { path: what });
  }
}

/** Validates an already-parsed document; errors name the path (`resources[0].id: …`). */
export async function parseAgentConfig(doc: unknown, source: string, ext: DriverSchemas = {}): Promise<AgentConfig> {
  // zod drops `__proto__` keys without a word (a trusted key, power device or mode so named would vanish).
  const protoKeys = protoKeyPaths(doc);
  if (protoKeys.length) throw new ValidationError(`${source}: ${protoKeys.map((p) => `${p.join(".")}: "__proto__" is not allowed as a name`).join("; ")}`, { path: protoKeys[0]!.join(".") });
  const res = agentConfigSchema(ext).safeParse(doc);
  if (!res.success) throw new ValidationError(formatIssues(res.error, source), { path: res.error.issues[0]?.path.join(".") });
  const c = res.data;
  // Looked up by the kid of every schedule that arrives: no prototype to answer for `toString`.
  const trustedKeys = Object.create(null) as Record<string, JWK>;
  for (const [kid, k] of Object.entries(c.trustedKeys)) {
    if ("file" in k && typeof k.file === "string") {
      const text = await readRelative(source, k.file, `trustedKeys.${kid}.file`);
      let parsed: unknown;
      try { parsed = JSON.parse(text); } catch { throw new ValidationError(`${source}: trustedKeys.${kid}.file: not JSON`, { path: `trustedKeys.${kid}` }); }
      const v = publicJwk.safeParse(parsed);
      if (!v.success) throw new ValidationError(formatIssues(v.error, `${source}: trustedKeys.${kid}.file`), { path: `trustedKeys.${kid}` });
      trustedKeys[kid] = v.data as JWK;
    } else {
      trustedKeys[kid] = k as JWK;
    }
  }
  const broker: AgentConfig["broker"] = { url: c.broker.url };
  if (c.broker.username !== undefined) broker.username = c.broker.username;
  if (c.broker.clientId !== undefined) broker.clientId = c.broker.clientId;
  if (c.broker.password !== undefined) broker.password = c.broker.password;
  if (c.broker.passwordFile !== undefined) broker.password = (await readRelative(source, c.broker.passwordFile, "broker.passwordFile")).trim();
  if (c.broker.ca !== undefined) broker.ca = await readRelative(source, c.broker.ca, "broker.ca");
  let worker: AgentConfig["worker"];
  if (c.worker) {
    worker = { url: c.worker.url };
    if (c.worker.token !== undefined) worker.token = c.worker.token;
    if (c.worker.tokenFile !== undefined) worker.token = (await readRelative(source, c.worker.tokenFile, "worker.tokenFile")).trim();
  }
  const { trustedKeys: _t, resources, topicPrefix, broker: _b, worker: _w, ...rest } = c;
  const out: AgentConfig = {
    ...rest,
    topicPrefix: topicPrefix ?? `labhog/${c.site}`,
    broker,
    trustedKeys,
    resources: resources.map((r) => ({ ...r, hog: r.hog ?? r.kind === "host" })),
    source,
  };
  if (worker) out.worker = worker;
  return out;
}

/**
 * Reads and validates the agent's file. `ext` may be a function of the parsed
 * document, so the caller loads only the drivers the file names.
 */
export async function loadAgentConfig(path: string, ext: DriverSchemas | ((doc: unknown) => Promise<DriverSchemas>) = {}): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new ValidationError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    throw new ValidationError(`${path}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  return parseAgentConfig(doc, resolve(path), typeof ext === "function" ? await ext(doc) : ext);
}
