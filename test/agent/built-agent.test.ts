import { execFile } from "node:child_process";
import { cp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPTIONAL_DRIVERS } from "../../edge-agent/agent/driver-modules.ts";
import { startMosquitto, type MosquittoService } from "../services/mosquitto.ts";
import { tempDir } from "../services/process.ts";
import { agentYaml, listen, testKey, type TestKey } from "./helpers.ts";

/**
 * What a host gets: edge-agent/dist (or one file) copied somewhere with no
 * node_modules above it, run by plain `node`. The copies live under a path
 * with a space, as a checkout may.
 */
const run = promisify(execFile);
const repo = resolve(import.meta.dirname, "..", "..");
const dist = join(repo, "edge-agent", "dist");
const node = (args: string[], cwd?: string) =>
  run(process.execPath, args, cwd ? { cwd } : {}).then(
    (r) => ({ code: 0, ...r }),
    (e: any) => ({ code: e.code as number, stdout: String(e.stdout), stderr: String(e.stderr) }),
  );

const summary = { agent: "a1", site: "lab", updatedAt: "2026-11-30T16:00:00Z", resources: [{ id: "host1", served: true, holder: { id: "bob", unix: ["bob"] }, exclusive: true, end: "2026-11-30T18:00:00Z", upcoming: [] }] };
const powerSection = "power: { devices: { board: { modes: { on: {}, off: {} } } } }";

let dir: string;
/** The agent's state directory may not contain spaces (its config refuses them). */
let stateRoot: string;
let broker: MosquittoService;
let key: TestKey;

beforeAll(async () => {
  dir = join(await tempDir("built agent"), "host copy");
  await mkdir(dir, { recursive: true });
  stateRoot = await tempDir("built-agent-state");
  broker = await startMosquitto();
  key = await testKey("k");
  await writeFile(join(dir, "status.json"), JSON.stringify(summary));
});
afterAll(async () => {
  await broker?.stop();
});

describe("the built agent (edge-agent/dist)", () => {
  it("runs from a copy of dist/ alone; an agent that configures none of the optional drivers runs with their chunks deleted", async () => {
    const copy = join(dir, "dist");
    await cp(dist, copy, { recursive: true });
    const bin = join(copy, "labhog.mjs");
    const status = await node([bin, "status", "--file", join(dir, "status.json")], dir);
    expect(status.stderr).toBe("");
    expect(status.stdout).toContain("host1 is held by bob (bob) until 2026-11-30 18:00 UTC.");

    // Drivers are chunks of their own, read only when a resource configures them.
    const chunks = await readdir(join(copy, "chunks"));
    const driverChunks = chunks.filter((c) => (OPTIONAL_DRIVERS as readonly string[]).includes(c.split("-")[0]!) && /^[a-z]+-[A-Z0-9]+\.mjs$/.test(c));
    // (A build keeps the previous build's chunks a while for processes still running it.)
    expect([...new Set(driverChunks.map((c) => c.split("-")[0]))].sort()).toEqual([...OPTIONAL_DRIVERS].sort());

    // With the power chunk present, a power section is validated by the power driver's schema…
    const withPower = join(dir, "power.yaml");
    await writeFile(withPower, agentYaml({ brokerUrl: broker.url, stateDir: join(stateRoot, "state-p"), publicJwk: key.publicJwk, kid: key.kid }).replace("hog: false }", `hog: false, ${powerSection} }`));
    const checked = await node([bin, "agent", "--config", withPower, "--check"], dir);
    expect(checked.stdout, checked.stderr).toContain("drivers: power, notify");

    for (const c of driverChunks) await rm(join(copy, "chunks", c));
    // …and without them, an agent that does not use them connects and runs.
    const cfg = join(dir, "plain.yaml");
    await writeFile(cfg, agentYaml({ brokerUrl: broker.url, stateDir: join(stateRoot, "state"), publicJwk: key.publicJwk, kid: key.kid, extra: `notify: { motd: ${JSON.stringify(join(dir, "motd"))}, wall: false, tmux: false }` }));
    const online = await listen(broker.url, "labhog/lab/agents/host1/events");
    const child = execFile(process.execPath, [bin, "agent", "--config", cfg, "--simulate"], { cwd: dir });
    let stderr = "";
    child.stderr!.on("data", (b: Buffer) => (stderr += b));
    try {
      const started = await online.waitFor((b) => b.action === "started", 20_000).catch(() => undefined);
      expect(started?.message, stderr).toBe("simulating; serving host1");
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await online.client.endAsync();
    }
    // The same copy refuses a power section now: the driver is not there.
    const refused = await node([bin, "agent", "--config", withPower, "--check"], dir);
    expect(refused.code).not.toBe(0);
  }, 60_000);

  it("npm pack of dist/ holds the entry, its chunks and the systemd unit, and runs once unpacked", async () => {
    const out = join(dir, "pack");
    await mkdir(out, { recursive: true });
    const { stdout } = await run("npm", ["pack", dist, "--pack-destination", out, "--json", "--ignore-scripts"], { cwd: out });
    const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path).sort();
    expect(files).toContain("labhog.mjs");
    expect(files).toContain("systemd/labhog-agent.service");
    expect(files.filter((f) => f.endsWith(".ts"))).toEqual([]);
    expect(files.some((f) => f.startsWith("chunks/power-"))).toBe(true);
    await run("tar", ["-xzf", join(out, info!.filename), "-C", out]);
    const r = await node([join(out, "package", "labhog.mjs"), "status", "--file", join(dir, "status.json")], out);
    expect(r.stdout).toContain("host1 is held by bob");
  }, 60_000);

  it("builds as a single file that runs alone, drivers included", async () => {
    const file = join(dir, "single", "labhog.mjs");
    await run(process.execPath, [join(repo, "scripts", "build-agent.mjs"), "--single", file]);
    const status = await node([file, "status", "--file", join(dir, "status.json")], dir);
    expect(status.stdout).toContain("host1 is held by bob");
    const withPower = join(dir, "single", "power.yaml");
    await writeFile(withPower, agentYaml({ brokerUrl: broker.url, stateDir: join(stateRoot, "state-s"), publicJwk: key.publicJwk, kid: key.kid }).replace("hog: false }", `hog: false, ${powerSection} }`));
    const checked = await node([file, "agent", "--config", withPower, "--check"], dir);
    expect(checked.stdout, checked.stderr).toContain("drivers: power, notify");
  }, 60_000);
});
