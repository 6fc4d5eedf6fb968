import { createHash, randomBytes } from "node:crypto";
import { callApi } from "../../api-call.ts";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateSigningKey } from "../../../calendar/schedule/schedule.ts";
import { startMosquitto, type MosquittoService } from "../../services/mosquitto.ts";
import { freePort, startAndWait, tempDir, type Service } from "../../services/process.ts";
import { startLabhogWorker, type RunningWorker } from "../start-worker.ts";
import { startNsHost, type NsHost } from "./ns-host-client.ts";

/**
 * The whole system on one machine, everything real: the Worker in workerd,
 * Mosquitto, Radicale (holding host1's calendar), and inside a private mount
 * namespace a real sshd plus the real agent serving host1.
 */
export const SITE = "e2e";
export const TOKENS = { alice: "sys-alice-token-0123456789abcdef", bob: "sys-bob-token-0123456789abcdef", agent: `lh_${randomBytes(18).toString("base64url")}` };
const sha = (t: string) => createHash("sha256").update(t).digest("hex");

/** Radicale that can be taken down and brought back on the same port with the same storage. */
export interface Calendar {
  url: string;
  username: string;
  password: string;
  collection: string;
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

async function startCalendar(): Promise<Calendar> {
  const dir = await tempDir("radicale-e2e");
  const port = await freePort();
  const username = "labhog";
  const password = "e2e-radicale-secret";
  await writeFile(join(dir, "users"), `${username}:${password}\n`);
  await writeFile(join(dir, "config"), ["[server]", `hosts = 127.0.0.1:${port}`, "[auth]", "type = htpasswd", `htpasswd_filename = ${join(dir, "users")}`, "htpasswd_encryption = plain", "delay = 0", "[rights]", "type = owner_only", "[storage]", `filesystem_folder = ${join(dir, "collections")}`, "[logging]", "level = warning", ""].join("\n"));
  let svc: Service | undefined;
  const start = async () => {
    svc = await startAndWait("python3", ["-m", "radicale", "--config", join(dir, "config")], { dir, port, env: { PATH: `/usr/bin:${process.env.PATH ?? ""}` } });
  };
  const kill = async () => {
    const c = svc?.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    await exited;
  };
  await start();
  const url = `http://127.0.0.1:${port}/`;
  const collection = `${url}${username}/host1/`;
  const auth = "Basic " + Buffer.from(`${username}:${password}`).toString("base64");
  const body = `<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>host1</d:displayname></d:prop></d:set></d:mkcol>`;
  const r = await fetch(collection, { method: "MKCOL", headers: { authorization: auth, "content-type": "application/xml; charset=utf-8" }, body });
  if (r.status !== 201) throw new Error(`MKCOL ${collection}: ${r.status}`);
  return {
    url, username, password, collection,
    down: kill,
    up: start,
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function labYaml(mqttWsUrl: string, cal: Calendar): string {
  return `site: ${SITE}
timezone: UTC
calendars:
  default: { backend: memory }
  host1: { backend: caldav, url: "${cal.url}", calendar: "${cal.collection}", username: ${cal.username}, passwordSecret: RADICALE_PASSWORD }
resources:
  host1: { name: "Host 1", kind: host, agent: host1, tags: { arch: x86_64 } }
users:
  alice: { name: Alice, email: alice@example.com, unix: alice, groups: [lab] }
  bob: { name: Bob, email: bob@example.com, unix: bob, groups: [lab] }
groups:
  lab: { book: ["*"] }
agents:
  host1: { tokenSecret: AGENT_HOST1_TOKEN_HASH }
mqtt:
  url: ${mqttWsUrl}
  prefix: labhog/${SITE}
policy:
  syncInterval: 5s
`;
}

export interface SystemLab {
  worker: RunningWorker;
  mosquitto: MosquittoService;
  calendar: Calendar;
  ns: NsHost;
  sshPort: number;
  api(method: string, path: string, body?: unknown, who?: "alice" | "bob"): Promise<{ status: number; body: any; headers: Headers }>;
  /** ssh login as a user with that user's own key; SHELL-OK means a shell, anything else the hog's message. */
  login(user: "alice" | "bob"): Promise<{ code: number | null; out: string }>;
  /** ssh login with the user's password (PAM), `kbd` for keyboard-interactive. */
  passwordLogin(user: "alice" | "bob", kbd?: boolean): Promise<{ code: number | null; out: string }>;
  /** Polls until `pred` holds; returns how long that took (ms). */
  until(what: string, pred: () => Promise<boolean>, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startSystemLab(opts: { tcpNoDelay?: boolean } = {}): Promise<SystemLab> {
  const [mosquitto, calendar] = await Promise.all([startMosquitto({ tcpNoDelay: opts.tcpNoDelay ?? false }), startCalendar()]);
  const key = await generateSigningKey("e2e-key");
  const worker = await startLabhogWorker(
    {
      LAB_CONFIG: labYaml(mosquitto.wsUrl, calendar),
      API_TOKENS: JSON.stringify({ [sha(TOKENS.alice)]: "user:alice", [sha(TOKENS.bob)]: "user:bob" }),
      AGENT_HOST1_TOKEN_HASH: sha(TOKENS.agent),
      RADICALE_PASSWORD: calendar.password,
      SCHEDULE_SIGNING_KEY: JSON.stringify(key.privateJwk),
      LOG_LEVEL: "error",
    },
    "worker/index.ts",
  );
  const ns = startNsHost();
  const env = await ns.call("setup", { users: ["alice", "bob"] }, 120_000);
  const yaml = [
    "agent: host1",
    `site: ${SITE}`,
    `topicPrefix: labhog/${SITE}`,
    `broker: { url: "${mosquitto.url}" }`,
    `trustedKeys: { e2e-key: ${JSON.stringify(key.publicJwk)} }`,
    "resources: [ { id: host1, kind: host, usage: { utmp: /run/utmp, intervalMs: 1000, heartbeatMs: 5000 } } ]",
    `stateDir: ${env.stateDir}`,
    `statusUrl: ${worker.url}/status`,
    "hog:",
    `  sshdConfig: ${env.sshdConfig}`,
    "  sshdPath: /usr/sbin/sshd",
    `  statusCommand: ${env.statusCommand}`,
    "notify: { motd: false, wall: false, tmux: false }",
    `worker: { url: "${worker.url}/api/v1/agents/host1/usage", token: "${TOKENS.agent}" }`,
    "",
  ].join("\n");
  await ns.call("writeAgentConfig", { yaml });
  await ns.call("startAgent");
  const lab: SystemLab = {
    worker, mosquitto, calendar, ns,
    sshPort: env.port,
    api: (method, path, body, who = "alice") => callApi(worker.url, TOKENS[who], method, path, body),
    login: (user) => ns.call("login", { user }),
    passwordLogin: (user, kbd = false) => ns.call("passwordLogin", { user, kbd }),
    async until(what, pred, timeoutMs = 30_000) {
      const t0 = Date.now();
      for (;;) {
        if (await pred()) return Date.now() - t0;
        if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms\nagent log tail: ${(await ns.call<string>("agentLog")).slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    },
    async stop() {
      await ns.call("shutdown", {}, 20_000).catch(() => undefined);
      await ns.close();
      await worker.dispose().catch(() => undefined);
      await Promise.allSettled([mosquitto.stop(), calendar.stop()]);
    },
  };
  return lab;
}

/** Every event in host1's Radicale calendar (a calendar-query REPORT, as a calendar app syncs). */
export async function calendarObjects(cal: Calendar): Promise<Array<{ href: string; ics: string }>> {
  const auth = "Basic " + Buffer.from(`${cal.username}:${cal.password}`).toString("base64");
  const body = `<?xml version="1.0" encoding="utf-8"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"/></c:comp-filter></c:filter></c:calendar-query>`;
  const r = await fetch(cal.collection, { method: "REPORT", headers: { authorization: auth, depth: "1", "content-type": "application/xml; charset=utf-8" }, body });
  if (r.status !== 207) throw new Error(`REPORT ${cal.collection}: ${r.status}`);
  const xml = await r.text();
  const out: Array<{ href: string; ics: string }> = [];
  for (const m of xml.matchAll(/<(?:\w+:)?response>([\s\S]*?)<\/(?:\w+:)?response>/g)) {
    const href = /<(?:\w+:)?href>([^<]+)</.exec(m[1]!)?.[1] ?? "";
    const data = /<(?:\w+:)?calendar-data[^>]*>([\s\S]*?)<\/(?:\w+:)?calendar-data>/.exec(m[1]!)?.[1];
    if (data) out.push({ href, ics: data.replace(/&#13;/g, "\r").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&").replace(/\r?\n[ \t]/g, "") });
  }
  return out;
}

/** Writes an event into Radicale as Thunderbird does: a plain PUT of a VCALENDAR, If-None-Match: *. */
export async function putAppEvent(cal: Calendar, uid: string, o: { start: Date; end: Date; summary: string; organizer: string }): Promise<void> {
  const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const now = new Date();
  const ics = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN", "BEGIN:VEVENT", `UID:${uid}`, `CREATED:${stamp(now)}`, `DTSTAMP:${stamp(now)}`, `DTSTART:${stamp(o.start)}`, `DTEND:${stamp(o.end)}`, `SUMMARY:${o.summary}`, `ORGANIZER:mailto:${o.organizer}`, "END:VEVENT", "END:VCALENDAR", ""].join("\r\n");
  const auth = "Basic " + Buffer.from(`${cal.username}:${cal.password}`).toString("base64");
  const r = await fetch(`${cal.collection}${uid}.ics`, { method: "PUT", headers: { authorization: auth, "content-type": "text/calendar; charset=utf-8", "if-none-match": "*" }, body: ics });
  if (r.status !== 201) throw new Error(`PUT ${uid}: ${r.status}`);
}

export const shell = (r: { out: string }) => r.out.includes("SHELL-OK");

/** A key login that got the hog's message, naming the holder, and no shell. */
export const heldBy = (holder: string, r: { out: string }) => new RegExp(`^host1 is held by ${holder} \\(${holder}\\) until [^\\n]* UTC\\.\\n`).test(r.out) && !shell(r);

/** A password login sshd refused because the hog's rule allows that user public keys only. */
export const passwordRefusedByHog = (user: string, r: { code: number | null; out: string }) => r.code === 255 && r.out === `${user}@127.0.0.1: Permission denied (publickey).\r\n`;
