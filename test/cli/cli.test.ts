import { access, mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { BIN, cliEnv, json, runLabhog, startCliLab, TOKENS, type CliLab, type CliResult } from "./cli-lab.ts";
import { bashCompletes, labhogOnPath, zshCompletes } from "./completion-shells.ts";

/**
 * The real `labhog` binary (its own Node process) against the real Worker in
 * workerd. Exit codes are the ones documented at the top of
 * edge-agent/cli/main.ts and in docs/cli.md.
 */
let lab: CliLab;
beforeAll(async () => {
  lab = await startCliLab();
}, 120_000);
afterAll(async () => {
  await lab?.stop();
});

/** An error is exactly one line on stderr, starting with `labhog <command>:`. */
function oneLineError(r: CliResult, command: string): string {
  const lines = r.stderr.split("\n").filter((l) => l.trim());
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^labhog ${command}: \\S`));
  return lines[0]!;
}

const minutes = (a: string, b: string) => (Date.parse(b) - Date.parse(a)) / 60_000;

describe("labhog CLI against the real Worker", () => {
  it("books a resource (human and --json), refuses the taken slot with exit 4 and the next free time", async () => {
    const human = await lab.labhog(["book", "host1", "--for", "1h", "--purpose", "kernel bisect"]);
    expect(human.code, human.stderr).toBe(0);
    const id = /id (host1:\S+)$/m.exec(human.stdout)?.[1];
    try {
      // A time past midnight (the CLI's zone) is written with its date: these tests run at any hour.
      expect(human.stdout).toMatch(/^booked host1 for alice \d\d:\d\d–(?:\d{4}-\d\d-\d\d )?\d\d:\d\d {2}id host1:\S+$/m);

      const taken = await lab.labhog(["book", "host1", "--for", "30m", "--json"], { who: "bob" });
      expect(taken.code).toBe(4);
      expect(taken.stdout).toBe("");
      expect(oneLineError(taken, "book")).toMatch(/host1.*next free/);

      const ls = json(await lab.labhog(["ls", "host1", "--json"], { who: "bob" }));
      const mine = ls.reservations.filter((r: any) => r.state === "active");
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ resource: "host1", holder: { id: "alice" }, exclusive: true });
      expect(mine[0].purpose).toContain("kernel bisect");
      expect(minutes(mine[0].start, mine[0].end)).toBeCloseTo(60, 0);
      expect(mine[0].id).toBe(id);
    } finally {
      if (id) await lab.labhog(["release", id]);
    }
  }, 60_000);

  it("books any free one of a pool, by tag, and shared bookings side by side", async () => {
    const a = json(await lab.labhog(["book", "--pool", "boards", "--for", "20m", "--json"]));
    const b = json(await lab.labhog(["book", "--pool", "boards", "--for", "20m", "--json"], { who: "bob" }));
    expect(new Set([a.reservation.resource, b.reservation.resource])).toEqual(new Set(["board1", "board2"]));
    const full = await lab.labhog(["book", "--pool", "boards", "--for", "20m"]);
    expect(full.code).toBe(4);
    oneLineError(full, "book");

    const tagged = json(await lab.labhog(["book", "--tag", "vendor=segger", "--for", "10m", "--json"], { who: "bob" }));
    expect(tagged.reservation.resource).toBe("probe");
    for (const r of [a, b, tagged]) expect((await lab.labhog(["release", r.reservation.id], { who: r.reservation.holder.id })).code).toBe(0);

    const s1 = await lab.labhog(["book", "host2", "--for", "15m", "--shared", "--json"]);
    const s2 = await lab.labhog(["book", "host2", "--for", "15m", "--shared", "--json"], { who: "bob" });
    expect(s1.code, s1.stderr).toBe(0);
    expect(s2.code, s2.stderr).toBe(0);
    expect(json(s1).reservation.exclusive).toBe(false);
    expect(json(s2).reservation.exclusive).toBe(false);
    for (const r of [json(s1), json(s2)]) await lab.labhog(["release", r.reservation.id], { who: r.reservation.holder.id });
  }, 90_000);

  it("book --until HH:MM ends at that minute", async () => {
    const until = new Date(Date.now() + 3 * 3600_000);
    const hhmm = `${String(until.getUTCHours()).padStart(2, "0")}:${String(until.getUTCMinutes()).padStart(2, "0")}`;
    const r = json(await lab.labhog(["book", "host4", "--until", hhmm, "--json"], { who: "bob" }));
    await lab.labhog(["release", r.reservation.id], { who: "bob" });
    expect(r.reservation.end).toBe(`${until.toISOString().slice(0, 11)}${hhmm}:00.000Z`);
  }, 60_000);

  it("extends (--for adds to the end, --until sets it) and releases by id and by resource", async () => {
    const booked = json(await lab.labhog(["book", "host2", "--for", "30m", "--json"], { who: "bob" }));
    const id = booked.reservation.id as string;
    const ext = await lab.labhog(["extend", id, "--for", "30m", "--json"], { who: "bob" });
    expect(ext.code, ext.stderr).toBe(0);
    expect(minutes(booked.reservation.end, json(ext).end)).toBeCloseTo(30, 0);

    // By resource name: "my current reservation there" (asks GET /api/v1/me who I am).
    const extRes = await lab.labhog(["extend", "host2", "--for", "15m"], { who: "bob" });
    expect(extRes.code, extRes.stderr).toBe(0);
    expect(extRes.stdout).toMatch(/^host2: now until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d {2}id host2:/);

    const notYours = await lab.labhog(["release", id], { who: "alice" });
    expect(notYours.code).toBe(4);
    oneLineError(notYours, "release");

    const rel = await lab.labhog(["release", "host2"], { who: "bob" });
    expect(rel.code, rel.stderr).toBe(0);
    expect(rel.stdout.trim()).toBe(`released host2  id ${id}`);
    const after = json(await lab.labhog(["ls", "host2", "--json"]));
    expect(after.reservations.filter((r: any) => r.state === "active" && r.exclusive)).toEqual([]);
  }, 60_000);

  it("ls shows mine by default, --all everyone's, or one resource's", async () => {
    const a = json(await lab.labhog(["book", "host3", "--for", "10m", "--json"]));
    const b = json(await lab.labhog(["book", "probe2", "--for", "10m", "--json"], { who: "bob" }));
    const mine = json(await lab.labhog(["ls", "--json"], { who: "bob" }));
    expect(mine.reservations.length).toBeGreaterThan(0);
    expect(mine.reservations.every((r: any) => r.holder.id === "bob")).toBe(true);
    const all = json(await lab.labhog(["ls", "--all", "--json"], { who: "bob" }));
    expect(new Set(all.reservations.map((r: any) => r.holder.id))).toEqual(new Set(["alice", "bob"]));
    const human = await lab.labhog(["ls", "--all"]);
    expect(human.stdout.split("\n")[0]).toMatch(/^id\s+resource\s+holder\s+start\s+end\s+kind\s+state\s+purpose$/);
    const one = json(await lab.labhog(["ls", "probe2", "--json"]));
    expect(one.reservations.length).toBeGreaterThan(0);
    expect(one.reservations.every((r: any) => r.resource === "probe2")).toBe(true);
    await lab.labhog(["release", a.reservation.id]);
    await lab.labhog(["release", b.reservation.id], { who: "bob" });
  }, 60_000);

  it("status --lab prints the lab as a table and as JSON", async () => {
    const held = json(await lab.labhog(["book", "host1", "--for", "10m", "--json"]));
    const t = await lab.labhog(["status", "--lab"]);
    expect(t.code, t.stderr).toBe(0);
    const lines = t.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^resource\s+pool\s+now\s+next\s+agent\s+notes$/);
    expect(lines.find((l) => l.startsWith("host1 "))).toMatch(/alice until (?:\d{4}-\d\d-\d\d )?\d\d:\d\d/);
    const j = json(await lab.labhog(["status", "--lab", "--json"]));
    expect(j.resources.map((r: any) => r.id).sort()).toEqual(["board1", "board2", "host1", "host2", "host3", "host4", "probe", "probe2"]);
    const pool = json(await lab.labhog(["status", "--lab", "--pool", "boards", "--json"]));
    expect(pool.resources.map((r: any) => r.id).sort()).toEqual(["board1", "board2"]);
    await lab.labhog(["release", held.reservation.id]);
  }, 60_000);

  it("book --wait waits for the holder to release; wait times out with exit 6, then sees the resource free", async () => {
    const held = json(await lab.labhog(["book", "host3", "--for", "1h", "--json"]));
    const timedOut = await lab.labhog(["wait", "host3", "--timeout", "3s", "--interval", "1s"], { who: "bob" });
    expect(timedOut.code).toBe(6);
    oneLineError(timedOut, "wait");

    const waiter = lab.labhog(["wait", "host3", "--timeout", "60s", "--interval", "1s", "--json"], { who: "bob" });
    await new Promise((r) => setTimeout(r, 4000));
    expect((await lab.labhog(["release", held.reservation.id])).code).toBe(0);
    const w = await waiter;
    expect(w.code, w.stderr).toBe(0);
    expect(json(w)).toEqual({ resource: "host3" });

    const again = json(await lab.labhog(["book", "host3", "--for", "1h", "--json"]));
    const booker = lab.labhog(["book", "host3", "--for", "10m", "--wait", "60", "--json"], { who: "bob" });
    await new Promise((r) => setTimeout(r, 4000));
    expect((await lab.labhog(["release", again.reservation.id])).code).toBe(0);
    const b = await booker;
    expect(b.code, b.stderr).toBe(0);
    const granted = json(b);
    expect(granted.reservation).toMatchObject({ resource: "host3", holder: { id: "bob" } });
    // Granted although host3 was held when it asked: it waited. The Worker counts from the request's arrival, which
    // a loaded machine can delay by the CLI's start-up, so only part of the 4 s is certain.
    expect(granted.waited).toBeGreaterThanOrEqual(1);
    await lab.labhog(["release", granted.reservation.id], { who: "bob" });
  }, 120_000);

  it("lease -- <command> passes the command's exit code and environment through and releases when it exits", async () => {
    const out = await lab.labhog(["lease", "probe2", "--ttl", "30s", "--", "sh", "-c", 'echo "held $LABHOG_RESOURCE $LABHOG_RESERVATION"; exit 7']);
    expect(out.code, out.stderr).toBe(7);
    const m = /^held probe2 (probe2:\S+)$/m.exec(out.stdout);
    expect(m, out.stdout).not.toBeNull();
    const r = json(await lab.labhog(["ls", "probe2", "--json"])).reservations.find((x: any) => x.id === m![1]);
    // Released at exit: ended (or gone from the window), and certainly not active.
    expect(r?.state ?? "ended").not.toBe("active");
    expect(r?.leaseTtl ?? 30).toBe(30);

    const held = json(await lab.labhog(["book", "host4", "--for", "10m", "--json"]));
    const refused = await lab.labhog(["lease", "host4", "--", "touch", join(lab.home, "ran")], { who: "bob" });
    expect(refused.code).toBe(4); // alice holds host4: the command never runs
    oneLineError(refused, "lease");
    await expect(access(join(lab.home, "ran"))).rejects.toThrow();
    await lab.labhog(["release", held.reservation.id]);
    const missing = await lab.labhog(["lease", "probe2", "--", "/nonexistent/cmd"]);
    expect(missing.code).toBe(127);
  }, 90_000);
});

describe("labhog CLI errors: one readable line, documented exit codes", () => {
  it("usage errors exit 2", async () => {
    for (const args of [["frobnicate"], ["book", "host1", "--bogus"], ["book"], ["book", "host1", "--for", "soon"], ["book", "host1", "--for", "1h", "--until", "18:00"], ["lease", "host1"], ["extend", "host1"]]) {
      const r = await lab.labhog(args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      oneLineError(r, args[0]!);
    }
    const none = await lab.labhog([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/^usage: labhog <command>/);
  }, 120_000);

  it("invalid input the API refuses exits 3, unknown things exit 5", async () => {
    const tooLong = await lab.labhog(["book", "host2", "--for", "30d"]);
    expect(tooLong.code).toBe(3);
    expect(oneLineError(tooLong, "book")).not.toMatch(/\{|\bat \//);
    const noRes = await lab.labhog(["book", "nosuch", "--for", "1h"]);
    expect(noRes.code).toBe(5);
    oneLineError(noRes, "book");
    const noRsv = await lab.labhog(["release", "host1:no-such-event"]);
    expect(noRsv.code).toBe(5);
    oneLineError(noRsv, "release");
  }, 60_000);

  it("no or a wrong token exits 8; an unreachable server exits 7; no server configured exits 3", async () => {
    const anon = await lab.labhog(["status", "--lab"], { who: null });
    expect(anon.code).toBe(8);
    oneLineError(anon, "status");
    const wrong = await lab.labhog(["ls", "--all"], { who: null, env: { LABHOG_TOKEN: "not-a-token" } });
    expect(wrong.code).toBe(8);
    oneLineError(wrong, "ls");

    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    const down = await lab.labhog(["status", "--lab"], { env: { LABHOG_URL: `http://127.0.0.1:${port}` } });
    expect(down.code).toBe(7);
    expect(oneLineError(down, "status")).toContain(`cannot reach http://127.0.0.1:${port}`);

    const nothing = await runLabhog(["ls", "--all"], cliEnv(lab.home));
    expect(nothing.code).toBe(3);
    expect(oneLineError(nothing, "ls")).toContain("LABHOG_URL");
  }, 60_000);
});

describe("labhog CLI configuration", () => {
  it("reads url and token from the config file (and tokenFile); the environment wins over the file", async () => {
    const dir = join(lab.home, ".config", "labhog");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "cli.yaml"), `url: ${lab.worker.url}\ntoken: ${TOKENS.bob}\n`);
    const viaHome = json(await runLabhog(["status", "--lab", "--json"], cliEnv(lab.home)));
    expect(viaHome.resources.length).toBe(8);

    const tokenFile = join(lab.home, "token");
    await writeFile(tokenFile, TOKENS.alice + "\n");
    const explicit = join(lab.home, "other.yaml");
    await writeFile(explicit, `url: ${lab.worker.url}\ntokenFile: ${tokenFile}\n`);
    const viaFile = await runLabhog(["ls", "--json"], cliEnv(lab.home, { LABHOG_CONFIG: explicit }));
    expect(viaFile.code, viaFile.stderr).toBe(0);
    expect(json(viaFile).reservations.every((r: any) => r.holder.id === "alice")).toBe(true);

    const envWins = await runLabhog(["status", "--lab"], cliEnv(lab.home, { LABHOG_CONFIG: explicit, LABHOG_TOKEN: "not-a-token" }));
    expect(envWins.code).toBe(8);

    await writeFile(explicit, `url: ${lab.worker.url}\ntokn: x\n`);
    const bad = await runLabhog(["status", "--lab"], cliEnv(lab.home, { LABHOG_CONFIG: explicit }));
    expect(bad.code).toBe(3);
    expect(oneLineError(bad, "status")).toContain(explicit);

    const missing = await runLabhog(["status", "--lab"], cliEnv(lab.home, { LABHOG_CONFIG: join(lab.home, "nope.yaml") }));
    expect(missing.code).toBe(3);
    oneLineError(missing, "status");
  }, 60_000);
});

describe("labhog CLI on a terminal and in a pipe", () => {
  /** Runs labhog on a real pseudo-terminal (util-linux `script`), as a person at a shell would. */
  async function onTty(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const cmd = [process.execPath, BIN, ...args].map(q).join(" ");
    const r = await new Promise<CliResult>((res, rej) => {
      const child = spawn("script", ["-qfec", cmd, "/dev/null"], { env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      child.on("error", rej);
      child.on("close", (code, signal) => res({ code, stdout, stderr, signal }));
    });
    return { code: r.code, out: r.stdout.replace(/\r/g, "") };
  }
  const env = (extra: NodeJS.ProcessEnv = {}) => cliEnv(lab.home, { LABHOG_URL: lab.worker.url, LABHOG_TOKEN: TOKENS.bob, LABHOG_LOG_LEVEL: "info", ...extra });

  it("lease: sentences on a terminal, JSON lines in a pipe or with --json", async () => {
    const tty = await onTty(["lease", "probe2", "--ttl", "30s", "--", "true"], env());
    expect(tty.code, tty.out).toBe(0);
    expect(tty.out).toMatch(/^labhog lease: holding probe2 until (\d{4}-\d\d-\d\d )?\d\d:\d\d; keep-alive every 10 s, released when the command exits$/m);
    expect(tty.out).toMatch(/^labhog lease: released probe2; the command exited with 0$/m);
    expect(tty.out).not.toContain("{");

    const piped = await runLabhog(["lease", "probe2", "--ttl", "30s", "--", "true"], env());
    expect(piped.code, piped.stderr).toBe(0);
    const lines = piped.stderr.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.msg)).toEqual(["lease granted", "lease released"]);
    expect(lines[0]).toMatchObject({ level: "info", cmd: "lease", ttl: 30 });

    const jsonOnTty = await onTty(["lease", "probe2", "--ttl", "30s", "--json", "--", "true"], env());
    expect(jsonOnTty.code).toBe(0);
    expect(jsonOnTty.out).toMatch(/^\{"time":"[^"]+","level":"info","msg":"lease granted"/m);
  }, 90_000);

  it("wait says on a terminal who holds what it waits for, with a date when it is not today", async () => {
    const held = json(await lab.labhog(["book", "host3", "--for", "2d", "--json"]));
    try {
      const tty = await onTty(["wait", "host3", "--timeout", "2s", "--interval", "1s"], env());
      expect(tty.code).toBe(6);
      const end = new Date(held.reservation.end);
      const date = end.toLocaleDateString("en-CA", { timeZone: "UTC" });
      expect(tty.out).toMatch(new RegExp(`^labhog wait: waiting: host3 held by alice until ${date} \\d\\d:\\d\\d$`, "m"));
    } finally {
      await lab.labhog(["release", held.reservation.id]);
    }
  }, 60_000);

  it("completion offers the server's resources, pools and my reservations (bash and zsh)", async () => {
    const path = await labhogOnPath();
    // A generous deadline: the first listing wakes every ledger of a cold Worker. (The short default is for a person at a prompt.)
    const e = env({ LABHOG_LOG_LEVEL: "warn", LABHOG_COMPLETE_TIMEOUT_MS: "30000" });
    expect(await bashCompletes("labhog book ho", path, e)).toEqual(["host1", "host2", "host3", "host4"]);
    expect(await bashCompletes("labhog book --pool ", path, e)).toEqual(["boards"]);
    expect(await zshCompletes("labhog book pro", path, e)).toEqual(["probe", "probe2"]);
    const mine = json(await lab.labhog(["book", "host4", "--for", "10m", "--json"], { who: "bob" }));
    try {
      const bobs = json(await lab.labhog(["ls", "--json"], { who: "bob" })).reservations.filter((r: any) => r.state === "active" || r.state === "upcoming");
      const expected = [...new Set(bobs.flatMap((r: any) => [r.id, r.resource]))].sort();
      expect(expected).toContain(mine.reservation.id);
      expect(await bashCompletes("labhog release ", path, e)).toEqual(expected);
    } finally {
      await lab.labhog(["release", mine.reservation.id], { who: "bob" });
    }
  }, 120_000);
});
