import { spawn } from "node:child_process";
import { execFile } from "node:child_process";
import { appendFile, mkdir, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UsageSource } from "../../../edge-agent/drivers/driver.ts";
import { createPowerDriver } from "../../../edge-agent/drivers/power/index.ts";
import { createUsageCollector, encodeUtmp, parseUtmp, readSessions, type UsageSnapshot } from "../../../edge-agent/drivers/usage/index.ts";
import { tempDir, until } from "../../services/process.ts";
import { testContext } from "./helpers.ts";

let dir: string;
let utmp: string;
let fakeDev: string;
const login = Date.UTC(2026, 10, 26, 8, 0, 0) / 1000;

beforeAll(async () => {
  dir = await tempDir("usage");
  utmp = join(dir, "utmp");
  fakeDev = join(dir, "fake-dev");
  await mkdir(join(fakeDev, "pts"), { recursive: true });
  await writeFile(join(fakeDev, "pts", "0"), "");
  await writeFile(join(fakeDev, "tty1"), "");
  const now = Date.now() / 1000;
  await utimes(join(fakeDev, "pts", "0"), now - 125, now - 125);
  await utimes(join(fakeDev, "tty1"), now - 5, now - 5);
  const alive = process.pid;
  await writeFile(utmp, Buffer.concat([
    encodeUtmp({ type: 2, line: "~", id: "~~", user: "reboot", host: "6.1.0", time: login - 3600 }), // BOOT_TIME
    encodeUtmp({ type: 6, pid: alive, line: "tty2", id: "tty2", user: "LOGIN", time: login }), // LOGIN_PROCESS
    encodeUtmp({ type: 7, pid: alive, line: "pts/0", id: "ts/0", user: "alice", host: "laptop.example.org", addr: "192.0.2.7", session: 11, time: login + 0.25 }),
    encodeUtmp({ type: 7, pid: alive, line: "tty1", id: "tty1", user: "bob", time: login + 60 }),
    encodeUtmp({ type: 8, pid: alive, line: "pts/1", id: "ts/1", user: "carol", time: login + 120 }), // DEAD_PROCESS
    encodeUtmp({ type: 7, pid: 99_999_999, line: "pts/2", id: "ts/2", user: "dave", time: login + 180 }), // left behind by a crash
  ]));
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe("sessions from a utmp file written in glibc's x86_64 layout", () => {
  it("GNU who and utmpdump read the generated file the same way (the layout is right)", async () => {
    const { stdout } = await promisify(execFile)("who", [utmp]);
    const who = stdout.trim().split("\n").map((l) => l.split(/\s+/).slice(0, 2).join(" "));
    expect(who).toEqual(["alice pts/0", "bob tty1", "dave pts/2"]);
    const dump = (await promisify(execFile)("utmpdump", [utmp])).stdout;
    expect(dump).toMatch(/\[7\] \[\d+\] \[ts\/0\] \[alice\s*\] \[pts\/0\s*\] \[laptop\.example\.org\s*\] \[192\.0\.2\.7\s*\] \[2026-11-26T08:00:00,250000\+00:00\]/);
    expect(parseUtmp(Buffer.concat([await import("node:fs/promises").then((f) => f.readFile(utmp))])).map((r) => r.type)).toEqual([2, 6, 7, 7, 8, 7]);
  });

  it("lists logged-in users with tty, origin, login time and idle time; skips dead and stale entries", async () => {
    const sessions = await readSessions({ utmp, devRoot: fakeDev, procRoot: "/proc" });
    expect(sessions).toEqual([
      { user: "alice", tty: "pts/0", from: "laptop.example.org", since: "2026-11-26T08:00:00.250Z", idleSeconds: expect.any(Number), pid: process.pid },
      { user: "bob", tty: "tty1", since: "2026-11-26T08:01:00.000Z", idleSeconds: expect.any(Number), pid: process.pid },
    ]);
    expect(sessions[0]!.idleSeconds).toBeGreaterThanOrEqual(124);
    expect(sessions[0]!.idleSeconds).toBeLessThan(140);
    expect(sessions[1]!.idleSeconds).toBeLessThan(20);
    expect(await readSessions({ utmp: join(dir, "no-such-utmp"), devRoot: fakeDev })).toEqual([]);
  });
});

describe("per-user load from the real /proc", () => {
  it("sees a busy process's CPU and memory under its user", async () => {
    const uid = process.getuid!();
    const col = createUsageCollector({ utmp, devRoot: fakeDev, minUid: uid, includeRoot: true }, testContext().deps);
    const busy = spawn(process.execPath, ["-e", "const a = Buffer.alloc(64 << 20, 1); const end = Date.now() + 3000; while (Date.now() < end) {}"], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 300));
      await col.collect();
      await new Promise((r) => setTimeout(r, 1000));
      const s = await col.collect();
      const me = s.users.find((u) => u.uid === uid)!;
      expect(me.processes).toBeGreaterThanOrEqual(2);
      expect(me.cpuPercent).toBeGreaterThan(50); // the busy loop alone is ~100 % of one CPU
      expect(me.rssBytes).toBeGreaterThan(64 * 1024 * 1024);
      expect(me.user).toBe(uid === 0 ? "root" : expect.any(String));
    } finally {
      busy.kill("SIGKILL");
    }
    // System users are left out unless asked for.
    const quiet = createUsageCollector({ utmp, devRoot: fakeDev, minUid: 60_000 }, testContext().deps);
    expect((await quiet.collect()).users.filter((u) => u.uid === 0)).toEqual([]);
  });
});

const js = (code: string) => [process.execPath, "-e", code];

describe("extra collectors", () => {
  it("takes JSON, and reports garbage, a hang and an output flood", async () => {
    const { deps } = testContext();
    const col = createUsageCollector({
      utmp, devRoot: fakeDev, minUid: 60_000,
      collectors: [
        { name: "gpu", argv: js("console.log(JSON.stringify({ util: 37, mem: '2 GiB' }))") },
        { name: "garbage", argv: js("console.log('temperature: hot')") },
        { name: "hang", argv: js("setTimeout(() => {}, 10000)"), timeoutMs: 300 },
        { name: "flood", argv: js("process.stdout.write('x'.repeat(100000))"), maxBytes: 1000 },
        { name: "fails", argv: js("process.exit(3)") },
      ],
    }, deps);
    const t0 = Date.now();
    const s = await col.collect();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(s.extra.gpu).toEqual({ util: 37, mem: "2 GiB" });
    expect(s.extra.garbage).toEqual({ error: expect.stringMatching(/^not JSON: "temperature: hot\\n"$/) });
    expect(s.extra.hang).toEqual({ error: "no answer within 300 ms" });
    expect(s.extra.flood).toEqual({ error: "printed more than 1000 bytes" });
    expect((s.extra.fails as { error: string }).error).toMatch(/failed \(3\)/);
    expect(s.errors).toHaveLength(4);
  });

  it("simulation runs no collector", async () => {
    const { deps } = testContext();
    const marker = join(dir, "ran");
    const col = createUsageCollector({ utmp, devRoot: fakeDev, minUid: 60_000, collectors: [{ name: "touch", argv: js(`require('fs').writeFileSync(${JSON.stringify(marker)}, '')`) }] }, { ...deps, simulate: true });
    const s = await col.collect();
    expect(s.extra.touch).toEqual({ simulate: expect.stringMatching(/^would run /) });
    await expect(import("node:fs/promises").then((f) => f.access(marker))).rejects.toThrow();
  });
});

describe("emission: only changes, plus a heartbeat", () => {
  it("emits at start, on each change, and when unchanged for heartbeatMs", async () => {
    let mode = "off";
    let polls = 0;
    const heartbeatMs = 3000;
    const power: UsageSource = { name: "power", collect: async () => { polls++; return { board: mode }; } };
    const hub = createPowerDriver({ actuators: {}, devices: { hub: { modes: { off: {} } } } }, testContext().deps); // a real driver as a second source
    const col = createUsageCollector({ utmp, devRoot: fakeDev, minUid: 4_000_000_000 /* no real user: other tests' processes must not count as changes here */, intervalMs: 50, heartbeatMs }, { ...testContext().deps, sources: [power, { name: "hubpower", collect: () => hub.collect() }] });
    const seen: { at: number; s: UsageSnapshot }[] = [];
    const t0 = Date.now();
    const stop = col.start((s) => seen.push({ at: Date.now() - t0, s }));
    try {
      // Several polls, nothing changed: only the first snapshot went out. (Each collect reads all of /proc: on a
      // loaded machine three of them can take a second, hence a heartbeat far longer than that.)
      await until("three polls", () => polls >= 3, 10_000, 10);
      expect(seen.length).toBe(1);
      expect(seen[0]!.s.power).toEqual({ board: "off" });
      expect(seen[0]!.s.sources.hubpower).toEqual({ hub: "unknown" });
      // Then the heartbeat, unchanged, no sooner than heartbeatMs.
      await until("the heartbeat", () => seen.length >= 2, 10_000, 10);
      expect(seen.length).toBe(2);
      expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(heartbeatMs);
      expect(seen[1]!.s.power).toEqual({ board: "off" });
      mode = "on";
      await until("the change", () => seen.length >= 3, 10_000, 10);
      expect(seen.length).toBe(3);
      expect(seen[2]!.at - seen[1]!.at).toBeLessThan(heartbeatMs); // sent on change, not at the next heartbeat
      expect(seen[2]!.s.power).toEqual({ board: "on" });
    } finally {
      stop();
    }
    const n = seen.length;
    await new Promise((r) => setTimeout(r, 800));
    expect(seen.length).toBe(n); // stopped means stopped
  });
});

describe("woken by logins, not by a timer", () => {
  const until = async (cond: () => boolean, ms = 10_000) => { for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10)); };
  const never = 3_600_000; // intervals no test waits for: only a watch can explain a second look

  it("a login and a logout written to utmp are seen at once, with the interval an hour away", async () => {
    const d = join(dir, "watch-utmp");
    await mkdir(d, { recursive: true });
    const file = join(d, "utmp");
    await writeFile(file, encodeUtmp({ type: 2, line: "~", id: "~~", user: "reboot", time: login }));
    const col = createUsageCollector({ utmp: file, devRoot: fakeDev, sessionsDir: join(d, "no-logind"), minUid: 4_000_000_000, intervalMs: never, idleIntervalMs: never, heartbeatMs: never }, testContext().deps);
    const seen: UsageSnapshot[] = [];
    const stop = col.start((s) => seen.push(s));
    try {
      await until(() => seen.length >= 1);
      expect(seen.map((s) => s.sessions.length)).toEqual([0]);
      // sshd appends the user's record in place…
      const rec = { pid: process.pid, line: "pts/0", id: "ts/0", user: "alice", host: "laptop", time: login + 60 };
      await appendFile(file, encodeUtmp({ type: 7, ...rec }));
      await until(() => seen.length >= 2);
      expect(seen[1]?.sessions.map((s) => s.user)).toEqual(["alice"]);
      // …and marks it dead at logout.
      await writeFile(file, Buffer.concat([encodeUtmp({ type: 2, line: "~", id: "~~", user: "reboot", time: login }), encodeUtmp({ type: 8, ...rec })]));
      await until(() => seen.length >= 3);
      expect(seen.map((s) => s.sessions.length)).toEqual([0, 1, 0]);
    } finally {
      stop();
    }
  });

  it("with nobody logged in and no user process it looks every idleIntervalMs; a logind session file wakes it", async () => {
    const d = join(dir, "watch-logind");
    const sessions = join(d, "sessions");
    await mkdir(sessions, { recursive: true });
    let polls = 0;
    const probe: UsageSource = { name: "probe", collect: async () => ({ n: ++polls }) };
    const col = createUsageCollector({ utmp: join(d, "no-utmp"), devRoot: fakeDev, sessionsDir: sessions, minUid: 4_000_000_000, intervalMs: 50, idleIntervalMs: never, heartbeatMs: never }, { ...testContext().deps, sources: [probe] });
    const stop = col.start(() => {});
    try {
      await until(() => polls >= 1);
      // Ten busy intervals pass: an idle host is not looked at.
      await new Promise((r) => setTimeout(r, 500));
      expect(polls).toBe(1);
      await writeFile(join(sessions, "7"), "UID=1000\nUSER=alice\nACTIVE=1\n");
      await until(() => polls >= 2);
      expect(polls).toBe(2);
    } finally {
      stop();
    }
  });
});
