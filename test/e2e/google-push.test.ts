import { createHash } from "node:crypto";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey, verifySchedule } from "../../calendar/schedule/schedule.ts";
import { startGoogleStandin, type GoogleStandin } from "../google-standin/server.ts";
import { startWatchStandin, type WatchStandin, type StandinChannel } from "../push/watch-standin.ts";
import { startMosquitto, type MosquittoService } from "../services/mosquitto.ts";
import { freePort } from "../services/process.ts";
import { startLabhogWorker, type RunningWorker } from "./start-worker.ts";

/**
 * Google push end to end: the Worker (workerd) opens a watch channel for a
 * google-backed resource from its ledger's alarm, and a notification on that
 * channel syncs the resource at once — periodic sync is off (1d). Google is
 * the stand-in (test/google-standin + test/push/watch-standin.ts); the
 * notification is sent by the stand-in the way Google documents it.
 */
const TOKEN = "g-alice-token-0123456789";
const PUBLIC = "https://labhog.test";
const SECRET = "google-push-secret-0123456789";
let google: GoogleStandin;
let watch: WatchStandin;
let mosquitto: MosquittoService;
let worker: RunningWorker;
let calendarId = "";
let publicJwk: Awaited<ReturnType<typeof generateSigningKey>>["publicJwk"];

const api = async (path: string) => (await fetch(`${worker.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as Promise<any>;

beforeAll(async () => {
  google = await startGoogleStandin();
  watch = await startWatchStandin(google);
  calendarId = google.createCalendar().id;
  const sa = await google.createServiceAccount();
  mosquitto = await startMosquitto();
  const key = await generateSigningKey("g-key");
  publicJwk = key.publicJwk;
  const port = await freePort();
  const lab = `site: g
calendars:
  gboard: { backend: google, calendarId: "${calendarId}", credentialsSecret: GOOGLE_SA, apiRoot: "${watch.apiRoot}", tokenUrl: "${google.tokenUrl}" }
resources:
  gboard: { kind: board }
users:
  alice: { email: alice@example.com, unix: alice, groups: [lab] }
  bob: { email: bob@example.com, unix: bob, groups: [lab] }
groups:
  lab: { book: ["*"] }
mqtt: { url: "${mosquitto.wsUrl}", prefix: labhog/g }
policy: { syncInterval: 1d }
`;
  worker = await startLabhogWorker(
    {
      LAB_CONFIG: lab,
      GOOGLE_SA: JSON.stringify(sa),
      GOOGLE_PUSH_SECRET: SECRET,
      // Google delivers to https only (the stand-in refuses http like Google); the test then hands
      // the stand-in's notifications to the local plain-http Worker (notify's deliverTo).
      PUBLIC_URL: PUBLIC,
      SCHEDULE_SIGNING_KEY: JSON.stringify(key.privateJwk),
      API_TOKENS: JSON.stringify({ [createHash("sha256").update(TOKEN).digest("hex")]: "user:alice" }),
      LOG_LEVEL: "error",
    },
    "worker/index.ts",
    port,
  );
}, 120_000);

afterAll(async () => {
  await worker?.dispose().catch(() => undefined);
  await Promise.allSettled([watch?.close(), google?.close(), mosquitto?.stop()]);
});

async function openChannel(): Promise<StandinChannel> {
  await api("/api/v1/resources/gboard"); // the ledger wakes, syncs, and opens its channel from the alarm
  const t0 = Date.now();
  while (Date.now() - t0 < 10_000) {
    const ch = watch.channels.find((c) => !c.stopped);
    if (ch) return ch;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no watch channel opened");
}

describe("Google push", () => {
  it("the ledger opens a watch channel pointing at /push/google; Google's handshake is accepted", async () => {
    const ch = await openChannel();
    expect(ch).toMatchObject({ address: `${PUBLIC}/push/google`, calendarId });
    expect(ch.token.startsWith("gboard.")).toBe(true);
    expect((await watch.notify(ch, "sync", `${worker.url}/push/google`)).status).toBe(200);
  });

  it("a notification (answered at once, synced in waitUntil) makes an event made in Google Calendar visible in the API and the retained schedule; forged ones are refused", async () => {
    const ch = await openChannel();
    const start = new Date(Date.now() + 3_600_000);
    const ev = google.calendar(calendarId).seed({ summary: "bob's camera tests", start: { dateTime: start.toISOString() }, end: { dateTime: new Date(start.getTime() + 3_600_000).toISOString() }, organizer: { email: "bob@example.com" } });
    const uid = ev.iCalUID!;
    await new Promise((r) => setTimeout(r, 300));
    const seen = async () => (await api("/api/v1/reservations?resource=gboard")).reservations.find((r: any) => r.uid === uid);
    expect(await seen()).toBeUndefined();

    // Forged: the right channel id with a token made for another channel, or a made-up token.
    for (const token of [`gboard.${"A".repeat(43)}`, watch.channels.find((c) => c.id !== ch.id)?.token ?? "gboard.x"]) {
      const r = await fetch(`${worker.url}/push/google`, { method: "POST", headers: { "x-goog-channel-id": ch.id, "x-goog-channel-token": token, "x-goog-resource-state": "exists" } });
      expect(r.status).toBe(401);
    }
    expect(await seen()).toBeUndefined();

    const client = await mqtt.connectAsync(mosquitto.url);
    const schedules: string[] = [];
    client.on("message", (_t, p) => schedules.push(p.toString()));
    await client.subscribeAsync("labhog/g/resources/gboard/schedule", { qos: 1 });
    const t0 = Date.now();
    expect((await watch.notify(ch, "exists", `${worker.url}/push/google`)).status).toBe(200);
    let r = await seen();
    while (!r && Date.now() - t0 < 10_000) {
      await new Promise((res) => setTimeout(res, 100));
      r = await seen();
    }
    // A person's event in Google: the calendar is the organizer only when it was made on it; here bob is.
    expect(r).toMatchObject({ holder: { id: "bob" }, source: "calendar", state: "upcoming" });
    let inSchedule = false;
    while (!inSchedule && Date.now() - t0 < 10_000) {
      for (const s of schedules) {
        const v = await verifySchedule(s, { keys: { [publicJwk.kid!]: publicJwk }, resources: ["gboard"] }).catch(() => undefined);
        if (v?.entries.some((e) => e.id === uid)) inSchedule = true;
      }
      if (!inSchedule) await new Promise((r) => setTimeout(r, 50));
    }
    await client.endAsync();
    expect(inSchedule).toBe(true);
  });

  it("a series with an occurrence moved and one cancelled in Google: the ledger shows the moved one once and the cancelled one not at all", async () => {
    const ch = await openChannel();
    const cal = google.calendar(calendarId);
    // Daily at 06:00 UTC for 4 days, starting in 3 days (outside the other test's event).
    const day0 = new Date(Date.now() + 3 * 86_400_000);
    const d = (n: number, h = 6) => new Date(Date.UTC(day0.getUTCFullYear(), day0.getUTCMonth(), day0.getUTCDate() + n, h)).toISOString().replace(/\.000Z$/, "Z");
    const stamp = (iso: string) => iso.replace(/[-:]/g, "");
    const series = cal.seed({ summary: "bob's soak test", start: { dateTime: d(0), timeZone: "UTC" }, end: { dateTime: d(0, 7), timeZone: "UTC" }, recurrence: ["RRULE:FREQ=DAILY;COUNT=4"], organizer: { email: "bob@example.com" } });
    cal.write(`${series.id}_${stamp(d(1))}`, { start: { dateTime: d(1, 14), timeZone: "UTC" }, end: { dateTime: d(1, 15), timeZone: "UTC" } }, undefined, "patch"); // moved to the afternoon
    cal.delete(`${series.id}_${stamp(d(2))}`, undefined); // cancelled
    expect((await watch.notify(ch, "exists", `${worker.url}/push/google`)).status).toBe(200);
    const mine = async () => ((await api("/api/v1/reservations?resource=gboard")).reservations as any[]).filter((r) => r.uid === series.iCalUID).map((r) => r.start).sort();
    const want = [d(0), d(1, 14), d(3)].map((x) => new Date(x).toISOString());
    const t0 = Date.now();
    let got = await mine();
    while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() - t0 < 10_000) {
      await new Promise((res) => setTimeout(res, 100));
      got = await mine();
    }
    expect(got).toEqual(want);
  });
});
