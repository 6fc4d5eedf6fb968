import { spawn, type ChildProcess } from "node:child_process";
import { access, rm } from "node:fs/promises";
import { join } from "node:path";
import { SerialPort } from "serialport";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPowerDriver, type PowerConfigInput } from "../../../edge-agent/drivers/power/index.ts";
import { tempDir } from "../../services/process.ts";
import { entry, testContext } from "./helpers.ts";

let dir: string;
let socat: ChildProcess;
let board: SerialPort;
const received: string[] = [];

/** The test responder on the far end of a real pty pair: a fake U-Boot that answers some commands. */
beforeAll(async () => {
  dir = await tempDir("serial");
  socat = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${join(dir, "a")}`, `pty,raw,echo=0,link=${join(dir, "b")}`], { stdio: "ignore" });
  for (let i = 0; ; i++) {
    try { await access(join(dir, "a")); await access(join(dir, "b")); break; } catch { if (i > 100) throw new Error("socat made no ptys"); }
    await new Promise((r) => setTimeout(r, 20));
  }
  board = new SerialPort({ path: join(dir, "b"), baudRate: 115200 });
  await new Promise((r) => board.once("open", r));
  let buf = "";
  board.on("data", (b: Buffer) => {
    buf += b.toString();
    let i: number;
    while ((i = buf.indexOf("\r")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      received.push(line);
      // Answer in two chunks after a delay, as a slow console would.
      if (line === "reset") setTimeout(() => { board.write("resetting ...\r\nU-Bo"); setTimeout(() => board.write("ot 2024.01\r\n=> "), 50); }, 100);
      if (line === "boot") setTimeout(() => board.write("Starting kernel ...\r\n"), 50);
    }
  });
});
afterAll(async () => {
  await new Promise((r) => (board?.isOpen ? board.close(r) : r(undefined)));
  socat?.kill("SIGTERM");
  await rm(dir, { recursive: true, force: true });
});

function config(): PowerConfigInput {
  return {
    actuators: { console: { type: "serial", path: join(dir, "a"), baudRate: 115200 } },
    devices: {
      board: {
        modes: {
          off: { steps: [{ actuator: "console", parameters: { write: "poweroff\r" } }] },
          on: {
            steps: [
              { actuator: "console", parameters: { write: "reset\r", expect: "U-Boot \\d{4}\\.\\d{2}[\\s\\S]*=> ", timeoutMs: 3000 } },
              { actuator: "console", parameters: { write: "boot\r", expect: "Starting kernel", timeoutMs: 3000 } },
            ],
          },
          stuck: { steps: [{ actuator: "console", parameters: { write: "hello\r", expect: "never-comes", timeoutMs: 300 } }] },
        },
      },
    },
  };
}

describe("serial actuator over a socat pty pair", () => {
  it("writes, waits for each reply, then goes on", async () => {
    const { ctx, deps, events } = testContext();
    const drv = createPowerDriver(config(), deps);
    const t0 = Date.now();
    await drv.apply(entry(), ctx);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150); // it really waited for the delayed replies
    expect(received).toEqual(["reset", "boot"]);
    expect(events.filter((e) => !e.ok)).toEqual([]);
    expect(events.at(-1)).toMatchObject({ ok: true, message: "board is in mode on" });
  });

  it("reports a reply that never comes within the timeout", async () => {
    const { ctx, deps, events } = testContext();
    const drv = createPowerDriver(config(), deps);
    await drv.apply(entry({ mode: "stuck" }), ctx);
    const failed = events.filter((e) => !e.ok);
    expect(failed[0]!.message).toMatch(/no reply matching \/never-comes\/ on .* within 300 ms/);
    expect(received.at(-1)).toBe("hello");
  });

  it("simulation opens no port", async () => {
    const before = received.length;
    const { ctx, deps, events } = testContext("board1", true);
    const drv = createPowerDriver(config(), { ...deps, simulate: true });
    await drv.apply(entry(), ctx);
    await new Promise((r) => setTimeout(r, 200));
    expect(received.length).toBe(before);
    expect(events[0]!.message).toBe(`simulate: would board on step 1 (console): serial ${join(dir, "a")}@115200: write "reset\\r" expect /U-Boot \\d{4}\\.\\d{2}[\\s\\S]*=> / within 3000 ms`);
  });
});
