import { createHash } from "node:crypto";
import { callApi } from "../api-call.ts";
import mqtt from "mqtt";
import { startMosquitto, type MosquittoService } from "../services/mosquitto.ts";
import { startRadicale, type RadicaleService } from "../services/radicale.ts";
import { startLabhogWorker, type RunningWorker } from "./start-worker.ts";

/**
 * A small lab for the Node-side end-to-end tests: the Worker in workerd
 * (unstable_startWorker), a real Mosquitto carrying agent status and usage,
 * and a real Radicale holding one resource's calendar (so a calendar app can
 * make a conflict there). Everything else uses the memory backend.
 */
export const TOKENS = { alice: "e2e-alice-token-0123456789", bob: "e2e-bob-token-0123456789", build1: "e2e-agent-build1-token-0123456789" };
export const SITE = "e2e";

const sha = (t: string) => createHash("sha256").update(t).digest("hex");

export interface Lab {
  worker: RunningWorker;
  mosquitto: MosquittoService;
  radicale: RadicaleService;
  /** Collection URL of rock5b-2's calendar in Radicale. */
  appCalendar: string;
  api(method: string, path: string, body?: unknown, who?: keyof typeof TOKENS): Promise<{ status: number; body: any; headers: Headers }>;
  publish(topic: string, payload: unknown): Promise<void>;
  stop(): Promise<void>;
}

function labYaml(mqttUrl: string, radicaleUrl: string, user: string, appCalendar: string): string {
  return `site: ${SITE}
timezone: Europe/Berlin
calendars:
  default: { backend: memory }
  rock5b-2: { backend: caldav, url: "${radicaleUrl}", calendar: "${appCalendar}", username: ${user}, passwordSecret: RADICALE_PASSWORD }
pools:
  rk3588: { name: "RK3588 boards" }
resources:
  build1: { name: "Build server 1", kind: host, agent: build1, tags: { arch: x86_64 } }
  build2: { name: "Build server 2", kind: host, agent: build2, tags: { arch: x86_64 } }
  rock5b-1: { name: "Rock 5B #1", kind: board, pool: rk3588, agent: build1, tags: { soc: rk3588 } }
  rock5b-2: { name: "Rock 5B #2", kind: board, pool: rk3588, agent: build1, tags: { soc: rk3588 } }
  orangepi5: { name: "Orange Pi 5", kind: board, pool: rk3588, agent: build2, tags: { soc: rk3588 } }
  jtag1: { name: "J-Link probe", kind: usb, agent: build2, tags: { vendor: segger } }
users:
  alice: { name: Alice, email: alice@example.com, unix: alice, groups: [lab] }
  bob: { name: Bob, email: bob@example.com, unix: bob, groups: [lab] }
groups:
  lab: { book: ["*"] }
agents:
  build1: { tokenSecret: AGENT_BUILD1_HASH }
  build2: {}
mqtt:
  url: ${mqttUrl}
  prefix: labhog/${SITE}
policy:
  syncInterval: 5s
`;
}

async function mkcalendar(radicale: RadicaleService, name: string): Promise<string> {
  const url = `${radicale.url.replace(/\/?$/, "/")}${radicale.username}/${name}/`;
  const auth = "Basic " + Buffer.from(`${radicale.username}:${radicale.password}`).toString("base64");
  const body = `<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>${name}</d:displayname></d:prop></d:set></d:mkcol>`;
  const r = await fetch(url, { method: "MKCOL", headers: { authorization: auth, "content-type": "application/xml; charset=utf-8" }, body });
  if (r.status !== 201) throw new Error(`MKCOL ${url}: ${r.status}`);
  return url;
}

export async function putAppEvent(lab: Lab, uid: string, o: { start: Date; end: Date; summary: string; organizer: string; created: Date }): Promise<void> {
  const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const ics = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN", "BEGIN:VEVENT", `UID:${uid}`, `CREATED:${stamp(o.created)}`, `DTSTAMP:${stamp(o.created)}`, `DTSTART:${stamp(o.start)}`, `DTEND:${stamp(o.end)}`, `SUMMARY:${o.summary}`, `ORGANIZER:mailto:${o.organizer}`, "END:VEVENT", "END:VCALENDAR", ""].join("\r\n");
  const auth = "Basic " + Buffer.from(`${lab.radicale.username}:${lab.radicale.password}`).toString("base64");
  const r = await fetch(`${lab.appCalendar}${uid}.ics`, { method: "PUT", headers: { authorization: auth, "content-type": "text/calendar; charset=utf-8", "if-none-match": "*" }, body: ics });
  if (r.status !== 201) throw new Error(`PUT ${uid}: ${r.status}`);
}

export async function startLab(extraVars: Record<string, string> = {}): Promise<Lab> {
  const [mosquitto, radicale] = await Promise.all([startMosquitto(), startRadicale()]);
  const appCalendar = await mkcalendar(radicale, "rock5b-2");
  const worker = await startLabhogWorker({
    LAB_CONFIG: labYaml(mosquitto.wsUrl, radicale.url, radicale.username, appCalendar),
    API_TOKENS: JSON.stringify({ [sha(TOKENS.alice)]: "user:alice", [sha(TOKENS.bob)]: "user:bob" }),
    RADICALE_PASSWORD: radicale.password,
    AGENT_BUILD1_HASH: sha(TOKENS.build1),
    LOG_LEVEL: "error",
    ...extraVars,
  });
  const client = await mqtt.connectAsync(mosquitto.url);
  const lab: Lab = {
    worker,
    mosquitto,
    radicale,
    appCalendar,
    api: (method, path, body, who = "alice") => callApi(worker.url, TOKENS[who], method, path, body),
    async publish(topic, payload) {
      await client.publishAsync(`labhog/${SITE}/${topic}`, typeof payload === "string" ? payload : JSON.stringify(payload), { qos: 1, retain: true });
    },
    async stop() {
      await client.endAsync().catch(() => undefined);
      await worker.dispose().catch(() => undefined);
      await Promise.allSettled([mosquitto.stop(), radicale.stop()]);
    },
  };
  return lab;
}

/** Agent build1 online with alice logged in on build1 and rock5b-1 powered; build2 offline. */
export async function publishAgents(lab: Lab): Promise<void> {
  const at = new Date().toISOString();
  await lab.publish("agents/build1/status", { status: "online", at });
  await lab.publish("agents/build2/status", { status: "offline", at: new Date(Date.now() - 40 * 60_000).toISOString() });
  await lab.publish("agents/build1/usage", {
    agent: "build1",
    at,
    resources: {
      build1: { at, sessions: [{ user: "bob", tty: "pts/0", from: "10.0.4.17", since: at, idleSeconds: 4, pid: 1 }], users: [], sources: {}, extra: {}, errors: [] },
      "rock5b-1": { at, sessions: [], users: [], power: { "rock5b-1": "on" }, usb: { devices: [{ name: "maskrom", id: "2207:350b", present: true, exported: true }] }, sources: {}, extra: {}, errors: [] },
    },
  });
}

export const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

/** Agent build1 reports over HTTP (as its UsagePublisher does): bob logged in on build1, which nobody booked. */
export async function reportUnbookedUse(lab: Lab): Promise<void> {
  const at = new Date().toISOString();
  const r = await lab.api("POST", "/api/v1/agents/build1/usage", { agent: "build1", at, resources: { build1: { at, sessions: [{ user: "bob", tty: "pts/0", from: "10.0.4.17", since: at, idleSeconds: 4, pid: 1 }], users: [], sources: {}, extra: {}, errors: [] } } }, "build1");
  if (r.status !== 202) throw new Error(`usage report: ${r.status} ${JSON.stringify(r.body)}`);
}
