/**
 * Edge agent: RSS and idle CPU of a running `labhog agent` (60 s, or 10 s with
 * LABHOG_BENCH_QUICK=1; usage collection on, nobody logged in), run from
 * edge-agent/dist as the systemd unit runs it, and the latency from a schedule publish to the hog
 * being in place (the hog driver's `hogged` event received over MQTT), against
 * a raw MQTT publish→receive of the same payload measured in the same run.
 *
 * The agent runs in a private mount namespace (unshare --mount, with a tmpfs
 * over /run/labhog) with a small fake passwd and homes, and its own sshd (a
 * config of the bench's, on a free loopback port), so the hog really writes
 * and checks the sshd rule, reloads that sshd and bind-mounts, without
 * touching the machine's sshd or files. Without root/unshare it falls back to
 * --simulate (noted in the rows).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmdirSync } from "node:fs";
import { appendFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import type { BenchRow } from "./types.ts";
import { startMosquitto } from "../test/services/mosquitto.ts";
import { freePort, tempDir } from "../test/services/process.ts";
import { generateSigningKey, signSchedule, type Schedule } from "../calendar/schedule/schedule.ts";
import { AGENT_V8_FLAGS } from "../edge-agent/agent/daemon-v8.ts";

const repo = resolve(fileURLToPath(import.meta.url), "../..");
const quick = process.env.LABHOG_BENCH_QUICK === "1";
const idleSeconds = quick ? 10 : 60;
const runs = 30;
const unitNodeOptions = /^Environment=NODE_OPTIONS=(.*)$/m.exec(readFileSync(join(repo, "edge-agent/systemd/labhog-agent.service"), "utf8"))?.[1] ?? "";

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function canUnshareMount(): boolean {
  try {
    execFileSync("unshare", ["--mount", "--propagation", "private", "--", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function procStats(pid: number): Promise<{ cpuTicks: number; rssKb: number; hwmKb: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuTicks = Number(f[11]) + Number(f[12]); // utime + stime
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { cpuTicks, rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
}

/**
 * A private mount namespace held open by a `sleep` (unshare execs it in the
 * new namespace), with a tmpfs over /run/labhog and /run/sshd: the hog's
 * sshd rule and keys go there, not into the machine's /run, and the bench's
 * sshd gets its privilege separation folder even on a machine whose own sshd
 * never ran. Processes join it with nsenter.
 */
function privateNamespace(): { pid: number; run: (argv: string[]) => string[]; stop: () => void } {
  const holder = spawn("unshare", ["--mount", "--propagation", "private", "--", "sleep", "infinity"], { stdio: "ignore" });
  const pid = holder.pid!;
  const run = (argv: string[]) => ["nsenter", "--target", String(pid), "--mount", "--", ...argv];
  // The mount points have to exist on /run itself (a mount namespace shares the files, not the mounts):
  // made here only if missing, and removed again at stop, so the machine's /run ends as it was.
  const points = ["/run/labhog", "/run/sshd"];
  const made = points.filter((p) => !existsSync(p));
  for (const p of made) mkdirSync(p);
  // unshare may not have switched namespaces yet: retry until the mount lands in the new one.
  for (let i = 0; ; i++) {
    try {
      if (execFileSync("readlink", [`/proc/${pid}/ns/mnt`]).toString() !== execFileSync("readlink", ["/proc/self/ns/mnt"]).toString()) break;
    } catch {
      /* not there yet */
    }
    if (i > 200) throw new Error("unshare did not start");
    execFileSync("sleep", ["0.01"]);
  }
  for (const p of points) {
    const [f, ...a] = run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=755", "labhog-bench-run", p]);
    execFileSync(f!, a);
  }
  return {
    pid,
    run,
    stop: () => {
      holder.kill("SIGKILL");
      for (const p of made) try { rmdirSync(p); } catch { /* something else put files there since: leave it */ }
    },
  };
}

const within = <T>(ms: number, what: string, p: Promise<T>): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`bench: ${what} took over ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
};

export default async function run(): Promise<BenchRow[]> {
  const broker = await startMosquitto();
  const dir = await tempDir("bench-agent");
  const real = process.getuid?.() === 0 && canUnshareMount();
  const ns = real ? privateNamespace() : undefined;
  let sshd: ChildProcess | undefined;
  try {
    const { privateJwk, publicJwk } = await generateSigningKey("bench");
    // A fake system: 20 users with a key each, the hog locks 19 and opens the holder's file.
    const homes = join(dir, "home");
    const users = Array.from({ length: 20 }, (_, i) => `user${i}`);
    const passwd: string[] = ["root:x:0:0:root:/root:/bin/bash"];
    for (const [i, u] of users.entries()) {
      await mkdir(join(homes, u, ".ssh"), { recursive: true });
      await writeFile(join(homes, u, ".ssh", "authorized_keys"), `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${i} ${u}@bench\n`);
      passwd.push(`${u}:x:${2000 + i}:${2000 + i}::${join(homes, u)}:/bin/bash`);
    }
    await writeFile(join(dir, "passwd"), passwd.join("\n") + "\n");
    // The bench's own sshd: the hog checks (sshd -t, -T -C), installs its rule and reloads this one.
    const sshdConfig = join(dir, "sshd_config");
    if (ns) {
      await mkdir(join(dir, "sshd_config.d"));
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hostkey")]);
      await writeFile(sshdConfig, [`Include ${join(dir, "sshd_config.d")}/*.conf`, `Port ${await freePort()}`, "ListenAddress 127.0.0.1", `HostKey ${join(dir, "hostkey")}`, `PidFile ${join(dir, "sshd.pid")}`, "UsePAM no", ""].join("\n"));
      const [f, ...a] = ns.run(["/usr/sbin/sshd", "-D", "-f", sshdConfig, "-E", join(dir, "sshd.log")]);
      sshd = spawn(f!, a, { stdio: "ignore" });
      for (let i = 0; !(await readFile(join(dir, "sshd.pid"), "utf8").catch(() => "")); i++) {
        if (i > 200 || sshd.exitCode !== null) throw new Error(`bench sshd did not start: ${await readFile(join(dir, "sshd.log"), "utf8").catch(() => "")}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    const cfg = join(dir, "agent.yaml");
    await writeFile(cfg, [
      "agent: bench1",
      "site: bench",
      `broker: { url: "${broker.url}" }`,
      `trustedKeys: { bench: ${JSON.stringify(publicJwk)} }`,
      // Usage collection on, as on a real host: sessions, per-user load.
      "resources: [ { id: host1, notify: false, usage: {} } ]",
      `stateDir: ${join(dir, "state")}`,
      `hog: { passwdFile: ${join(dir, "passwd")}, authorizedKeysFile: ".ssh/authorized_keys", sshdConfig: ${sshdConfig} }`,
    ].join("\n") + "\n");

    const agentArgs = [join(repo, "edge-agent/dist/labhog.mjs"), "agent", "--config", cfg, ...(real ? [] : ["--simulate"])];
    // As the systemd unit runs it: the unit's NODE_OPTIONS, not this process's (--expose-gc).
    const agentEnv = { ...process.env, NODE_OPTIONS: unitNodeOptions, LABHOG_LOG_LEVEL: "warn" };
    // nsenter execs node in place: child.pid is the agent's.
    const argv = ns ? ns.run([process.execPath, ...agentArgs]) : [process.execPath, ...agentArgs];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"], env: agentEnv });
    let agentErr = "";
    child.stderr!.on("data", (b: Buffer) => (agentErr = (agentErr + b).slice(-5000)));

    const sub = await mqtt.connectAsync(broker.url);
    const pub = await mqtt.connectAsync(broker.url);
    const waiters: { pred: (e: any) => boolean; resolve: (t: number) => void }[] = [];
    sub.on("message", (topic, payload) => {
      const t = performance.now();
      let body: any;
      try { body = JSON.parse(payload.toString()); } catch { body = payload.toString(); }
      const w = waiters.find((x) => x.pred({ topic, body }));
      if (w) { waiters.splice(waiters.indexOf(w), 1); w.resolve(t); }
    });
    const next = (pred: (m: { topic: string; body: any }) => boolean, timeoutMs = 20_000) =>
      new Promise<number>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`bench: timed out; agent said: ${agentErr.slice(-1000)}`)), timeoutMs);
        waiters.push({ pred, resolve: (t) => { clearTimeout(timer); res(t); } });
      });
    await sub.subscribeAsync(["labhog/bench/agents/bench1/events", "labhog/bench/agents/bench1/status", "bench/raw"], { qos: 1 });
    const started = next((m) => m.body?.action === "started", 30_000);
    await started;

    const key = { kid: "bench", jwk: privateJwk };
    let seq = 1;
    const sched = (entries: Schedule["entries"]): Schedule => ({ v: 1, resource: "host1", seq: seq++, issuedAt: new Date().toISOString(), validUntil: new Date(Date.now() + 86_400_000).toISOString(), entries });
    const hold = (i: number) => sched([{ id: `r${i}`, holder: { id: "user0", unix: ["user0"], keys: [] }, start: new Date(Date.now() - 1000).toISOString(), end: new Date(Date.now() + 3600_000).toISOString(), exclusive: true }]);

    let payloadBytes = 0;
    // `runs` book → hogged → release → released cycles; reservation ids from `first` on.
    const hogRuns = async (first: number) => {
      const hogLat: number[] = [];
      const ruleLat: number[] = [];
      const mountLat: number[] = [];
      const relLat: number[] = [];
      const rawLat: number[] = [];
      for (let i = first; i < first + runs; i++) {
        const jws = await signSchedule(hold(i), key);
        payloadBytes = jws.length;
        // floor: the same payload, raw publish → receive, same broker, same clients
        const rawDone = next((m) => m.topic === "bench/raw");
        let t0 = performance.now();
        await pub.publishAsync("bench/raw", jws, { qos: 1 });
        rawLat.push((await rawDone) - t0);

        const hogged = next((m) => m.body?.driver === "hog" && m.body?.action === "hogged" && m.body?.reservation === `r${i}`);
        const ruled = ns ? next((m) => m.body?.driver === "hog" && m.body?.action === "sshd-locked" && m.body?.reservation === `r${i}`) : undefined;
        t0 = performance.now();
        await pub.publishAsync("labhog/bench/resources/host1/schedule", jws, { qos: 1, retain: true });
        const tHog = await hogged;
        hogLat.push(tHog - t0);
        if (ruled) {
          const tRule = await ruled;
          ruleLat.push(tRule - t0);
          mountLat.push(tHog - tRule);
        }

        const rel = await signSchedule(sched([]), key);
        const released = next((m) => m.body?.driver === "hog" && m.body?.action === "released");
        // The next run starts from an idle agent: "released" goes out before the agent has recorded its verdict.
        const idle = next((m) => m.body?.driver === "agent" && m.body?.action === "enforced" && m.body?.message === "free");
        t0 = performance.now();
        await pub.publishAsync("labhog/bench/resources/host1/schedule", rel, { qos: 1, retain: true });
        relLat.push((await released) - t0);
        await idle;
      }
      return { hogLat, ruleLat, mountLat, relLat, rawLat };
    };
    const { hogLat, ruleLat, mountLat, relLat, rawLat } = await hogRuns(0);

    // Idle: a schedule with a future reservation is loaded (timer armed), nothing happens.
    await pub.publishAsync("labhog/bench/resources/host1/schedule", await signSchedule(sched([{ id: "later", holder: { id: "user0", unix: ["user0"], keys: [] }, start: new Date(Date.now() + 7200_000).toISOString(), end: new Date(Date.now() + 9000_000).toISOString(), exclusive: true }]), key), { qos: 1, retain: true });
    await new Promise((r) => setTimeout(r, 1000));
    const clk = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
    const a = await procStats(child.pid!);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const b = await procStats(child.pid!);
    const secs = (performance.now() - t0) / 1000;
    const idleCpuPct = ((b.cpuTicks - a.cpuTicks) / clk / secs) * 100;

    // Again with the broker sending without Nagle (set_tcp_nodelay true, as docs/deployment.md configures it): with
    // Mosquitto's default, an event sent within ~40 ms of the one before (schedule-accepted, sshd-locked, hogged)
    // waits for the subscriber's delayed ACK, which the single-message floor never shows.
    // The agent's retained "online" is cleared first, so the "online" seen after the restart is the agent connected again.
    const statusTopic = "labhog/bench/agents/bench1/status";
    const cleared = next((m) => m.topic === statusTopic && m.body === "");
    await pub.publishAsync(statusTopic, "", { qos: 1, retain: true });
    await cleared;
    await appendFile(join(broker.dir, "mosquitto.conf"), "set_tcp_nodelay true\n");
    const online = next((m) => m.topic === statusTopic && m.body === "online", 60_000);
    await within(30_000, "the broker's restart", broker.restart());
    await online;
    const nodelay = await hogRuns(1000);

    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    if (agentErr.includes("not fully")) throw new Error(`bench: the hog reported failures: ${agentErr.slice(-1500)}`);
    await sub.endAsync();
    await pub.endAsync();

    const rawP50 = pct(rawLat, 50);
    const mode = real ? "real sshd rule + reload and bind mounts in a private mount namespace, 20 users" : "--simulate (no root/unshare)";
    return [
      { name: "agent RSS after idle", value: round(b.rssKb / 1024, 1), unit: "MiB", note: `peak ${round(b.hwmKb / 1024, 1)} MiB; built agent (edge-agent/dist), NODE_OPTIONS=${unitNodeOptions || "(none)"} as in the systemd unit; V8 flags the agent sets itself: ${AGENT_V8_FLAGS.join(" ")}` },
      { name: `agent idle CPU over ${idleSeconds} s`, value: round(idleCpuPct, 3), unit: "% of one core", note: `${b.cpuTicks - a.cpuTicks} ticks` },
      { name: "raw MQTT publish→receive p50 (floor)", value: round(rawP50), unit: "ms", note: `QoS 1, ${payloadBytes} B, ${runs} runs` },
      { name: "schedule publish → hog applied p50", value: round(pct(hogLat, 50)), unit: "ms", ratio: round(pct(hogLat, 50) / rawP50, 1), note: mode },
      { name: "schedule publish → hog applied p99", value: round(pct(hogLat, 99)), unit: "ms", ratio: round(pct(hogLat, 99) / rawP50, 1), note: `${runs} runs; event received over MQTT` },
      { name: "schedule publish → hog released p50", value: round(pct(relLat, 50)), unit: "ms", ratio: round(pct(relLat, 50) / rawP50, 1), note: mode },
      ...(ruleLat.length
        ? [
            { name: "… of which: publish → sshd rule in force p50", value: round(pct(ruleLat, 50)), unit: "ms", ratio: round(pct(ruleLat, 50) / rawP50, 1), note: "sshd -t ×2 + sshd -T only for a configuration or rule shape sshd has not checked before (the first run); SIGHUP and sshd listening again" },
            { name: "… of which: sshd rule → 20 users' mounts p50", value: round(pct(mountLat, 50)), unit: "ms", ratio: round(pct(mountLat, 50) / rawP50, 1), note: "one mount --all --fstab, run while sshd re-executes: what is left after the rule is in force" },
          ]
        : []),
      { name: "raw MQTT publish→receive p50 (floor), set_tcp_nodelay true", value: round(pct(nodelay.rawLat, 50)), unit: "ms", note: "the broker restarted with set_tcp_nodelay true; same agent" },
      { name: "schedule publish → hog applied p50, set_tcp_nodelay true", value: round(pct(nodelay.hogLat, 50)), unit: "ms", ratio: round(pct(nodelay.hogLat, 50) / pct(nodelay.rawLat, 50), 1), note: `${mode}; ${runs} runs; ratio vs the line before` },
      { name: "schedule publish → hog applied p99, set_tcp_nodelay true", value: round(pct(nodelay.hogLat, 99)), unit: "ms", ratio: round(pct(nodelay.hogLat, 99) / pct(nodelay.rawLat, 50), 1) },
      { name: "schedule publish → hog released p50, set_tcp_nodelay true", value: round(pct(nodelay.relLat, 50)), unit: "ms", ratio: round(pct(nodelay.relLat, 50) / pct(nodelay.rawLat, 50), 1) },
    ];
  } finally {
    if (sshd && sshd.exitCode === null) sshd.kill("SIGTERM");
    ns?.stop();
    await broker.stop();
  }
}
