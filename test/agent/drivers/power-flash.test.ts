import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createPowerDriver, type PowerConfigInput } from "../../../edge-agent/drivers/power/index.ts";
import { tempDir } from "../../services/process.ts";
import { entry, testContext } from "./helpers.ts";

const standins = resolve(import.meta.dirname, "../../stand-ins");
let dir: string;
let images: string;
let logFile: string;

beforeAll(async () => {
  dir = await tempDir("power-flash");
  images = join(dir, "images");
  await mkdir(images);
  await writeFile(join(images, "board.img"), "image bytes");
  await writeFile(join(dir, "secret.img"), "outside");
  await symlink("/etc/passwd", join(images, "evil.img"));
  logFile = join(dir, "standin.log");
  process.env.STANDIN_LOG = logFile;
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });
beforeEach(async () => {
  await rm(logFile, { force: true });
  delete process.env.STANDIN_FLASH_EXIT;
  delete process.env.STANDIN_GPIO_VALUE;
  delete process.env.STANDIN_FLASH_STEP_DELAY;
});

/** Each line the stand-ins recorded, as its argument list. */
const calls = async () => (await readFile(logFile, "utf8").catch(() => "")).split("\n").filter(Boolean).map((l) => l.split("\t"));

function config(): PowerConfigInput {
  return {
    imagesDir: images,
    actuators: {
      relay: { type: "gpio", chip: "gpiochip0", line: 17, gpioset: join(standins, "gpioset"), gpioget: join(standins, "gpioget") },
      dfu: { type: "flasher" },
      cmd: { type: "command" },
    },
    devices: {
      board: {
        read: { actuator: "relay", parameters: {} },
        modes: {
          off: { steps: [{ actuator: "relay", parameters: { value: 0 } }] },
          on: { depends: "off", steps: [{ actuator: "relay", parameters: { value: 1 } }] },
          flash: {
            depends: "off",
            steps: [
              { actuator: "dfu", parameters: { argv: [join(standins, "flasher"), "-a", "0", "-D", "{image}"] } },
              { actuator: "relay", parameters: { value: 1 } },
            ],
          },
          // A program with the image and holder substituted inside single arguments.
          tag: {
            steps: [{
              actuator: "cmd",
              parameters: { argv: [process.execPath, "-e", "require('fs').appendFileSync(process.env.STANDIN_LOG, ['cmd', ...process.argv.slice(1)].join('\\t') + '\\n')", "--", "--image={image}", "for {holder} on {resource}"] },
            }],
          },
        },
      },
    },
  };
}

describe("gpio actuator (stand-in gpioset/gpioget recording their args)", () => {
  it("runs libgpiod v2 gpioset for off then on, and reads the line back with gpioget", async () => {
    const { ctx, deps } = testContext();
    const drv = createPowerDriver(config(), deps);
    await drv.apply(entry(), ctx);
    expect(await calls()).toEqual([
      ["gpioset", "-c", "gpiochip0", "-t0", "17=0"],
      ["gpioset", "-c", "gpiochip0", "-t0", "17=1"],
    ]);
    process.env.STANDIN_GPIO_VALUE = "1";
    expect(await drv.readState()).toEqual({ board: "on" });
    expect((await calls()).at(-1)).toEqual(["gpioget", "-c", "gpiochip0", "--numeric", "17"]);
  });

  it("speaks libgpiod v1 syntax when told, with active-low", async () => {
    const cfg = config();
    cfg.actuators!.relay = { type: "gpio", chip: "gpiochip1", line: "RELAY_EN", activeLow: true, tools: "v1", gpioset: join(standins, "gpioset"), gpioget: join(standins, "gpioget") };
    const { ctx, deps } = testContext();
    const drv = createPowerDriver(cfg, deps);
    await drv.apply(entry(), ctx);
    await drv.readState();
    expect(await calls()).toEqual([
      ["gpioset", "-l", "gpiochip1", "RELAY_EN=0"],
      ["gpioset", "-l", "gpiochip1", "RELAY_EN=1"],
      ["gpioget", "-l", "gpiochip1", "RELAY_EN"],
    ]);
  });
});

describe("flash steps (stand-in flasher printing dfu-util-like progress)", () => {
  it("flashes the reservation's image and reports progress events", async () => {
    const { ctx, deps, events } = testContext();
    const drv = createPowerDriver(config(), deps);
    await drv.apply(entry({ mode: "flash", image: "board.img" }), ctx);
    expect(await calls()).toEqual([
      ["gpioset", "-c", "gpiochip0", "-t0", "17=0"],
      ["flasher", "-a", "0", "-D", join(images, "board.img")],
      ["gpioset", "-c", "gpiochip0", "-t0", "17=1"],
    ]);
    const progress = events.filter((e) => e.action === "flash" && e.ok).map((e) => e.progress!);
    expect(progress.slice(0, 10)).toEqual([0, 0.05, 0.1, 0.2, 0.33, 0.5, 0.66, 0.8, 0.95, 1]);
    expect(progress.every((p, i) => i === 0 || p >= progress[i - 1]!)).toBe(true);
    expect(events.filter((e) => !e.ok)).toEqual([]);
  });

  it.each([
    ["../secret.img", /outside the images directory/],
    [`${"/"}etc/passwd`, /outside the images directory/],
    ["evil.img", /resolves outside the images directory/],
    ["-rf", /looks like a command-line option/],
    ["a;reboot", /characters that are not allowed/],
    ["x$(id).img", /characters that are not allowed/],
    ["missing.img", /does not exist/],
  ])("refuses the image %s and runs nothing", async (image, why) => {
    const { ctx, deps, events } = testContext();
    const drv = createPowerDriver(config(), deps);
    await drv.apply(entry({ mode: "flash", image }), ctx);
    expect(await calls()).toEqual([]);
    const refused = events.filter((e) => !e.ok);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ action: "flash", ok: false });
    expect(refused[0]!.message).toMatch(why);
  });

  it("reports a failing flasher and stops that sequence", async () => {
    process.env.STANDIN_FLASH_EXIT = "3";
    const { ctx, deps, events } = testContext();
    const drv = createPowerDriver(config(), deps);
    await drv.apply(entry({ mode: "flash", image: "board.img" }), ctx);
    expect((await calls()).map((c) => c[0])).toEqual(["gpioset", "flasher"]); // no power-on after a failed flash
    expect(events.find((e) => !e.ok && e.action === "flash")?.message).toMatch(/exited with 3/);
    expect(events.find((e) => !e.ok && e.action === "power")?.message).toMatch(/stopped entering flash after step 2\/3/);
  });
});

describe("the end of a reservation during a long flash", () => {
  it("cuts the flash short and powers off without waiting for it", async () => {
    process.env.STANDIN_FLASH_STEP_DELAY = "0.4"; // ~4 s of flashing
    const { ctx, deps, events } = testContext();
    const drv = createPowerDriver(config(), deps);
    const applying = drv.apply(entry({ mode: "flash", image: "board.img" }), ctx);
    while (!events.some((e) => e.action === "flash" && (e.progress ?? 0) >= 0.05)) await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    await drv.release(ctx);
    expect(Date.now() - t0).toBeLessThan(1500);
    await applying;
    expect((await calls()).map((c) => c.join(" "))).toEqual([
      "gpioset -c gpiochip0 -t0 17=0",
      `flasher -a 0 -D ${join(images, "board.img")}`,
      "gpioset -c gpiochip0 -t0 17=0", // off, and never the power-on after the flash
    ]);
    expect(events.find((e) => !e.ok && e.action === "flash")?.message).toMatch(/cut short: the reservation ended$/);
    expect(Math.max(...events.filter((e) => e.action === "flash" && e.ok).map((e) => e.progress!))).toBeLessThan(1);
    expect(await drv.readState()).toEqual({ board: "off" }); // gpioget of the stand-in answers 0
  });
});

describe("command actuator", () => {
  it("substitutes placeholders inside single arguments, no shell", async () => {
    const { ctx, deps } = testContext("rk3588-1");
    const drv = createPowerDriver(config(), deps);
    await drv.apply(entry({ mode: "tag", image: "board.img" }), ctx);
    expect(await calls()).toEqual([["cmd", `--image=${join(images, "board.img")}`, "for bob on rk3588-1"]]);
  });

  it("reads state back through a `read` command with a value map", async () => {
    const cfg = config();
    cfg.devices.board!.read = { actuator: "cmd", parameters: { argv: [process.execPath, "-e", "console.log('1')"], map: { "1": "on", "0": "off" } } };
    const drv = createPowerDriver(cfg, testContext().deps);
    expect(await drv.readState()).toEqual({ board: "on" });
  });
});

describe("simulation", () => {
  it("runs no gpio, flasher or command and reports every step it would run", async () => {
    const { ctx, deps, events } = testContext("board1", true);
    const drv = createPowerDriver(config(), { ...deps, simulate: true });
    await drv.apply(entry({ mode: "flash", image: "board.img" }), ctx);
    await drv.release(ctx);
    expect(await calls()).toEqual([]);
    expect(events.map((e) => e.message)).toEqual([
      `simulate: would board off step 1 (relay): ${join(standins, "gpioset")} -c gpiochip0 -t0 17=0`,
      `simulate: would board flash step 1 (dfu): flash ${JSON.stringify([join(standins, "flasher"), "-a", "0", "-D", join(images, "board.img")])}`,
      `simulate: would board flash step 2 (relay): ${join(standins, "gpioset")} -c gpiochip0 -t0 17=1`,
      "simulate: board is in mode flash",
      `simulate: would board off step 1 (relay): ${join(standins, "gpioset")} -c gpiochip0 -t0 17=0`,
      "simulate: board is in mode off",
    ]);
    expect(await drv.readState()).toEqual({ board: "off" }); // no gpioget either
    expect(await calls()).toEqual([]);
  });
});
