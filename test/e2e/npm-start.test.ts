import { spawn, type ChildProcess } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { freePort, tempDir, waitForPort } from "../services/process.ts";

/**
 * `npm start` as a user runs it (scripts/start.mjs → scripts/demo.ts), on
 * free ports and its own state dir: the Worker answers under wrangler dev, the
 * simulated agents come online through the embedded broker, a booking reaches
 * the agent as a verified schedule, and Ctrl-C stops everything.
 */
const root = join(import.meta.dirname, "..", "..");
let demo: ChildProcess | undefined;
let dir = "";

afterAll(async () => {
  // Its own process group: a failed run must not leave wrangler, workerd or agents behind.
  if (demo?.pid) {
    try {
      process.kill(-demo.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("npm start runs the Worker, the broker and simulated agents, and Ctrl-C stops them", async () => {
  dir = await tempDir("npm-start");
  const port = await freePort();
  const wsPort = await freePort();
  const lab = (await readFile(join(root, "worker", "lab.yaml"), "utf8")).replace("ws://127.0.0.1:8884", `ws://127.0.0.1:${wsPort}`);
  await writeFile(join(dir, "lab.yaml"), lab);
  demo = spawn(process.execPath, [join(root, "scripts", "start.mjs"), "--port", String(port), "--state", join(dir, "state"), "--lab", join(dir, "lab.yaml")], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  let err = "";
  demo.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  demo.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  await expect.poll(() => out, { timeout: 120_000, interval: 500 }).toContain("labhog is running");
  expect(out).toContain(`http://127.0.0.1:${port}/status`);

  const secrets = JSON.parse(await readFile(join(dir, "state", "secrets.json"), "utf8")) as { tokens: Record<string, string> };
  const token = secrets.tokens["user:bob"]!;
  expect(out).toContain(token);
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  // The simulated agents announce themselves through the embedded broker; the Worker sees them.
  await expect
    .poll(async () => (await api("GET", "/api/v1/resources")).body.resources.map((r: any) => r.agent?.status), { timeout: 60_000, interval: 1000 })
    .toEqual(["online", "online", "online", "online", "online", "online"]);

  const booked = await api("POST", "/api/v1/reservations", { pool: "rk3588", duration: "1h", purpose: "npm start test" });
  expect(booked.status).toBe(201);
  const resource = booked.body.reservation.resource as string;
  // The agent serving it accepts the signed schedule and (simulating) applies the reservation to bob.
  await expect
    .poll(() => err.split("\n").some((l) => l.includes('"schedule-accepted"') && l.includes(`"resource":"${resource}"`) && /[1-9]\d* entr/.test(l)), { timeout: 30_000 })
    .toBe(true);

  const exited = new Promise<number | null>((r) => demo!.once("exit", (code) => r(code)));
  demo.kill("SIGINT");
  expect(await exited).toBe(0);
  await expect(waitForPort(port, 500)).rejects.toThrow();
  await expect(waitForPort(wsPort, 500)).rejects.toThrow();
}, 240_000);
