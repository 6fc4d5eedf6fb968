import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import mqtt from "mqtt";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { BIN, cliEnv, runLabhog } from "../cli/cli-lab.ts";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleTopics, nextConsoleSeq, signConsoleInput, toBase64 } from "../../edge-agent/drivers/console/message.ts";
import { PREFIX, startConsoleLab, TOKENS, until, type ConsoleLab, type Who } from "./console-lab.ts";

/**
 * The serial console end to end: a socat pty pair stands in
 * for the board's UART; the real agent holds one end, the test is the board
 * on the other; the real Worker in workerd relays over real Mosquitto.
 */
let lab: ConsoleLab;
let booking: { id: string; end: string };
const bookedFor = "30s";

/** Everything a console socket received, as text, and a way to wait for some of it. */
function tap(ws: WebSocket) {
  let got = "";
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })));
  ws.on("message", (d: Buffer) => (got += d.toString("utf8")));
  return {
    text: () => got,
    closed,
    waitFor: (s: string) => until(`console output ${JSON.stringify(s)} (got ${JSON.stringify(got.slice(-300))})`, () => got.includes(s)),
  };
}

/** The `<` (board → holder) or `>` (holder → board) bytes of a log, joined. */
function direction(log: string, dir: "<" | ">"): string {
  return log
    .split("\n")
    .map((l) => /^\S+ ([<>]) (".*")$/.exec(l))
    .filter((m): m is RegExpExecArray => !!m && m[1] === dir)
    .map((m) => JSON.parse(m[2]!) as string)
    .join("");
}

beforeAll(async () => {
  lab = await startConsoleLab();
  const r = await lab.api("POST", "/api/v1/reservations", { resource: "board1", duration: bookedFor, purpose: "console test" }, "bob");
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  booking = r.body.reservation;
  const entryId = booking.id.slice("board1:".length);
  // The agent opens the port when the signed schedule makes bob's booking the active one.
  await until("the agent applies bob's booking", () => lab.agent.runners.get("board1")?.active?.id === entryId);
}, 120_000);

afterAll(async () => {
  await lab?.stop();
});

describe("console: who may open it", () => {
  it("refuses alice (not the holder) with 403 problem JSON before any upgrade", async () => {
    const r = await lab.refused("board1", "alice");
    expect(r.status).toBe(403);
    expect(r.contentType).toBe("application/problem+json");
    expect(r.body).toMatchObject({ type: "https://labhog.dev/problems/forbidden", status: 403, resource: "board1" });
    expect(r.body.detail).toBe("only the holder of board1 may open its console");
  });

  it("refuses alice as a watcher too (watching is for admins), and anyone without a credential (401)", async () => {
    expect((await lab.refused("board1", "alice", "?watch=1")).status).toBe(403);
    const anon = await lab.refused("board1", null);
    expect(anon.status).toBe(401);
    expect(anon.contentType).toBe("application/problem+json");
  });

  it("answers 409 for a board nobody holds, and 404 for no such resource", async () => {
    const r = await lab.refused("board2", "bob");
    expect(r.status).toBe(409);
    expect(r.body.detail).toBe("nobody holds board2 now: its console opens for the holder of a running booking");
    expect((await lab.refused("nope", "bob")).status).toBe(404);
  });
});

describe("console: bob's session while he holds board1", () => {
  let bob: WebSocket;
  let bobTap: ReturnType<typeof tap>;

  it("carries what bob types to the board, and what the board writes back to bob", async () => {
    bob = await lab.connect("board1", "bob");
    bobTap = tap(bob);
    bob.send(Buffer.from("uname -a\r"));
    await lab.board.waitFor("uname -a\r");
    await lab.board.write("Linux rock5b 6.1.0 aarch64\r\n=> ");
    await bobTap.waitFor("Linux rock5b 6.1.0 aarch64\r\n=> ");
    expect(lab.board.received()).toBe("uname -a\r");
  });

  it("lets an admin watch (read-only): carol sees the output, and what she sends never reaches the board", async () => {
    const carol = await lab.connect("board1", "carol", "?watch=1");
    const carolTap = tap(carol);
    carol.send("reboot\r");
    await lab.board.write("U-Boot 2024.01\r\n");
    await carolTap.waitFor("U-Boot 2024.01\r\n");
    await bobTap.waitFor("U-Boot 2024.01\r\n");
    // bob's next line is written after carol's attempt (the agent takes input in order): hers was dropped.
    bob.send("printenv\r");
    await lab.board.waitFor("printenv\r");
    expect(lab.board.received()).toBe("uname -a\rprintenv\r");
    carol.close();
  });

  it("keeps both directions in the reservation's log, which bob (not alice) downloads during the booking", async () => {
    const path = `/api/v1/reservations/${encodeURIComponent(booking.id)}/console.log`;
    const r = await lab.api("GET", path, undefined, "bob");
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(direction(r.body, ">")).toBe("uname -a\rprintenv\r");
    expect(direction(r.body, "<")).toBe("Linux rock5b 6.1.0 aarch64\r\n=> U-Boot 2024.01\r\n");
    expect(r.body).toMatch(/^\S+Z # console \S+uart-agent opened at 115200 baud 8N1 for bob$/m);
    const alice = await lab.api("GET", path, undefined, "alice");
    expect(alice.status).toBe(403);
    expect(alice.body.type).toBe("https://labhog.dev/problems/forbidden");
  });

  it("ends the session at the booking's end, and the agent takes no more input for it", async () => {
    const end = Date.parse(booking.end);
    const closed = await bobTap.closed;
    expect(closed.code).toBe(4000);
    expect(closed.reason).toBe("the booking ended");
    expect(closed.at).toBeGreaterThanOrEqual(end);
    // No new session: nobody holds board1 any more.
    expect((await lab.refused("board1", "bob")).status).toBe(409);

    // Input correctly signed for the ended booking (as a replaying Worker would send) is dropped by the agent.
    const client = await mqtt.connectAsync(lab.mosquitto.url);
    try {
      const t = consoleTopics(PREFIX, "board1");
      const entryId = booking.id.slice("board1:".length);
      const key = { kid: lab.key.kid, jwk: lab.key.privateJwk };
      const seq1 = nextConsoleSeq(0, Date.now()); // above anything the Worker sent so far
      const base = { v: 1 as const, resource: "board1", reservation: entryId, session: "late-session-1" };
      await client.subscribeAsync(t.log("afterend0001"), { qos: 1 });
      const reply = new Promise<any>((resolve) => client.on("message", (_t, p) => resolve(JSON.parse(p.toString()))));
      await client.publishAsync(t.in, await signConsoleInput({ ...base, seq: seq1, type: "open" }, key), { qos: 1 });
      await client.publishAsync(t.in, await signConsoleInput({ ...base, seq: seq1 + 1, type: "data", data: toBase64(new TextEncoder().encode("after-the-end\r")) }, key), { qos: 1 });
      // The agent handles console input in order: once it answers this log request, the data above was handled.
      await client.publishAsync(t.in, await signConsoleInput({ ...base, seq: seq1 + 2, type: "log", req: "afterend0001" }, key), { qos: 1 });
      const log = await reply;
      expect(log.found).toBe(true);
      expect(lab.board.received()).toBe("uname -a\rprintenv\r");
      expect(log.log).toMatch(/# console closed: the booking ended\n$/);
      expect(direction(log.log, ">")).toBe("uname -a\rprintenv\r");
    } finally {
      await client.endAsync();
    }

    // And the log stays downloadable after the booking.
    const after = await lab.api("GET", `/api/v1/reservations/${encodeURIComponent(booking.id)}/console.log`, undefined, "bob");
    expect(after.status).toBe(200);
    expect(direction(after.body, ">")).toBe("uname -a\rprintenv\r");
  }, 60_000);
});

describe("labhog console, the real CLI as a separate process", () => {
  let second: { id: string; end: string };
  const env = (who: Who) => cliEnv(lab.dir, { LABHOG_URL: lab.worker.url, LABHOG_TOKEN: TOKENS[who] });

  beforeAll(async () => {
    const r = await lab.api("POST", "/api/v1/reservations", { resource: "board1", duration: "10m", purpose: "console CLI test" }, "bob");
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    second = r.body.reservation;
    await until("the agent applies bob's second booking", () => lab.agent.runners.get("board1")?.active?.id === second.id.slice("board1:".length));
  }, 60_000);

  afterAll(async () => {
    if (second) await lab.api("POST", `/api/v1/reservations/${encodeURIComponent(second.id)}/release`, undefined, "bob");
  });

  it("refuses alice with one clear line and exit 4", async () => {
    const r = await runLabhog(["console", "board1"], env("alice"));
    expect(r.code).toBe(4);
    expect(r.stderr).toBe("labhog console: only the holder of board1 may open its console\n");
    expect(r.stdout).toBe("");
  });

  it("gives bob a raw terminal on a pty: keystrokes reach the board unbuffered, output comes back, ~. leaves", async () => {
    const q = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
    const cmd = [process.execPath, BIN, "console", "board1"].map(q).join(" ");
    const child = spawn("script", ["-qfec", cmd, "/dev/null"], { env: env("bob"), stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      await until(`the banner (got ${JSON.stringify(out)})`, () => out.includes("~. after a newline leaves"));
      const before = lab.board.received().length;
      // Raw: "l" arrives alone, before any newline (a cooked terminal would hold it back).
      child.stdin.write("l");
      await until("the board gets one keystroke", () => lab.board.received().slice(before) === "l");
      child.stdin.write("s\r");
      await lab.board.waitFor("ls\r");
      await lab.board.write("bin  etc  usr\r\n# ");
      await until(`the board's answer on the terminal (got ${JSON.stringify(out.slice(-200))})`, () => out.includes("bin  etc  usr"));
      // "~." after a newline leaves; neither "~" nor "." reaches the board.
      child.stdin.write("~.");
      expect(await exited).toBe(0);
      expect(out).toContain("labhog: console closed");
      expect(lab.board.received().slice(before)).toBe("ls\r");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("gives bob a terminal in Chromium from the status page (xterm.js under the page's CSP); alice gets the refusal", async () => {
    const artifacts = join(import.meta.dirname, "..", "..", "test-artifacts", "console");
    await mkdir(artifacts, { recursive: true });
    const browser: Browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update", "--disable-sync", "--no-first-run"] });
    const signedIn = async (ctx: BrowserContext, who: Who): Promise<Page> => {
      const page = await ctx.newPage();
      await page.goto(`${lab.worker.url}/status`);
      await page.getByLabel("API token").fill(TOKENS[who]);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(/done=signed-in/);
      return page;
    };
    try {
      const ctx = await browser.newContext({ viewport: { width: 1000, height: 600 } });
      const page = await signedIn(ctx, "bob");
      const violations: string[] = [];
      const said: string[] = [];
      page.on("console", (m) => { said.push(m.text()); if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
      page.on("pageerror", (e) => said.push(`pageerror: ${e.message}`));
      await page.locator(`#r-board1 a.console-link`).click();
      await page.waitForURL(/\/status\/console\/board1$/);
      await page.locator("#state", { hasText: "connected" }).waitFor({ timeout: 15_000 }).catch(async (e) => {
        throw new Error(`${(e as Error).message}; state ${await page.locator("#state").textContent()}; page said ${JSON.stringify(said)}`);
      });
      const before = lab.board.received().length;
      await page.locator("#term").click();
      await page.keyboard.type("pwd");
      await page.keyboard.press("Enter");
      await lab.board.waitFor("pwd\r");
      expect(lab.board.received().slice(before)).toBe("pwd\r");
      await lab.board.write("/root\r\nroot@rock5b:~# ");
      const screen = () => page.evaluate(() => {
        const b = (window as any).labhogConsole.term.buffer.active;
        const lines: string[] = [];
        for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
        return lines.join("\n");
      });
      await until("the board's answer in the browser terminal", async () => (await screen()).includes("root@rock5b:~#"));
      expect(await screen()).toMatch(/^\/root\nroot@rock5b:~# ?$/m);
      await page.screenshot({ path: join(artifacts, "console-panel.png") });
      expect(violations).toEqual([]);
      await page.close();

      const actx = await browser.newContext();
      const apage = await signedIn(actx, "alice");
      expect(await apage.locator(`#r-board1 a.console-link`).count()).toBe(0);
      const res = await apage.goto(`${lab.worker.url}/status/console/board1`);
      expect(res?.status()).toBe(403);
      expect(await apage.locator("p.err").textContent()).toBe("only the holder of board1 may open its console");
      expect(await apage.locator("#term").count()).toBe(0);
      // The socket itself: bob's sign-in cookie works from this origin only (another site's page would send it too).
      const cookie = (await ctx.cookies()).map((k) => `${k.name}=${k.value}`).join("; ");
      const socket = (origin: string) =>
        new Promise<number>((resolve, reject) => {
          const ws = new WebSocket(`${lab.worker.url.replace(/^http/, "ws")}/console/board1?watch=1`, { headers: { cookie, origin } });
          ws.once("open", () => { ws.close(); resolve(101); });
          ws.once("unexpected-response", (_q, res) => resolve(res.statusCode ?? 0));
          ws.once("error", (e) => { if (!/Unexpected server response/.test(e.message)) reject(e); });
        });
      expect(await socket("https://evil.example")).toBe(403);
      expect(await socket(lab.worker.url)).toBe(101);
    } finally {
      await browser.close();
    }
  }, 90_000);

  it("prints the booking's log with --log (this booking's only: a new reservation, a new log)", async () => {
    const r = await runLabhog(["console", "--log", "board1"], env("bob"));
    expect(r.code, r.stderr).toBe(0);
    expect(direction(r.stdout, ">")).toBe("ls\rpwd\r");
    expect(direction(r.stdout, "<")).toBe("bin  etc  usr\r\n# /root\r\nroot@rock5b:~# ");
    const earlier = await runLabhog(["console", "--log", booking.id], env("bob"));
    expect(earlier.code, earlier.stderr).toBe(0);
    expect(direction(earlier.stdout, ">")).toBe("uname -a\rprintenv\r");
    const alice = await runLabhog(["console", "--log", booking.id], env("alice"));
    expect(alice.code).toBe(4);
    expect(alice.stderr).toBe("labhog console: only the holder or an admin of board1 may read this console log\n");
  });

  it("ends bob's session when he releases the booking early (the agent announces the end)", async () => {
    const ws = await lab.connect("board1", "bob");
    const t = tap(ws);
    const r = await lab.api("POST", `/api/v1/reservations/${encodeURIComponent(second.id)}/release`, undefined, "bob");
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const closed = await t.closed;
    expect(closed.code).toBe(4000);
    expect(closed.reason).toBe("the booking ended");
    expect(closed.at).toBeLessThan(Date.parse(second.end));
  });

  it("closes the session at the booking's end from the Worker alone, with the agent gone (its alarm, not the agent's word)", async () => {
    const r = await lab.api("POST", "/api/v1/reservations", { resource: "board1", duration: "20s", purpose: "end without the agent" }, "bob");
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const third = r.body.reservation as { id: string; end: string };
    await until("the agent applies the third booking", () => lab.agent.runners.get("board1")?.active?.id === third.id.slice("board1:".length));
    const ws = await lab.connect("board1", "bob");
    const t = tap(ws);
    await lab.agent.stop();
    const closed = await t.closed;
    expect(closed.code).toBe(4000);
    expect(closed.reason).toBe("the booking ended");
    expect(closed.at).toBeGreaterThanOrEqual(Date.parse(third.end));
  }, 60_000);
});
