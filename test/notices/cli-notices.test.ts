import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI_LAB, cliEnv, json, runLabhog, TOKENS, type CliResult, type Who } from "../cli/cli-lab.ts";
import { startLabhogWorker, type RunningWorker } from "../e2e/start-worker.ts";

/**
 * `labhog notice` as a real process against the real Worker in workerd: the
 * CLI lab (test/cli/cli-lab.ts) with alice made an admin, bob a plain user.
 */
const LAB = CLI_LAB.replace("unix: alice, groups: [lab]", "unix: alice, groups: [lab, admins]").replace('  lab: { book: ["*"] }', '  lab: { book: ["*"] }\n  admins: { admin: ["*"] }');
const sha = (t: string) => createHash("sha256").update(t).digest("hex");
let worker: RunningWorker;
let home: string;
const labhog = (args: string[], who: Who = "alice"): Promise<CliResult> => runLabhog(args, cliEnv(home, { LABHOG_URL: worker.url, LABHOG_TOKEN: TOKENS[who] }));

beforeAll(async () => {
  expect(LAB).toContain("admins: { admin");
  worker = await startLabhogWorker({ LAB_CONFIG: LAB, API_TOKENS: JSON.stringify({ [sha(TOKENS.alice)]: "user:alice", [sha(TOKENS.bob)]: "user:bob" }), LOG_LEVEL: "error" }, "worker/index.ts");
  home = await mkdtemp(join(tmpdir(), "labhog-cli-notice-"));
}, 120_000);
afterAll(async () => {
  await worker?.dispose().catch(() => undefined);
  if (home) await rm(home, { recursive: true, force: true });
});

describe("labhog notice", () => {
  it("an admin sends one for a pool with --until HH:MM; --list shows it; --delete removes it", async () => {
    const sent = await labhog(["notice", "--pool", "boards", "new firmware on the boards", "--until", "23:59", "--json"]);
    expect(sent.code, sent.stderr).toBe(0);
    const n = json(sent);
    expect(n).toMatchObject({ text: "new firmware on the boards", by: "alice", resources: ["board1", "board2"] });
    // 23:59 in the CLI's zone (TZ=UTC here): today, or tomorrow when already past.
    const until = new Date(n.until);
    expect([until.getUTCHours(), until.getUTCMinutes(), until.getUTCSeconds()]).toEqual([23, 59, 0]);
    expect(Date.parse(n.until) - Date.now()).toBeLessThanOrEqual(86_400_000);

    const human = await labhog(["notice", "--list"]);
    expect(human.code).toBe(0);
    expect(human.stdout.split("\n")[0]).toMatch(/^id\s+resources\s+by\s+until\s+text$/);
    expect(human.stdout).toMatch(new RegExp(`^${n.id}\\s+board1,board2\\s+alice\\s+.*new firmware on the boards$`, "m"));
    const listed = json(await labhog(["notice", "--list", "board2", "--json"], "bob"));
    expect(listed.notices.map((x: { id: string }) => x.id)).toEqual([n.id]);
    expect(json(await labhog(["notice", "--list", "host1", "--json"])).notices).toEqual([]);

    const del = await labhog(["notice", "--delete", n.id]);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout.trim()).toBe(`deleted notice ${n.id} (board1, board2)`);
    expect((await labhog(["notice", "--list"])).stdout.trim()).toBe("no notices");
    const again = await labhog(["notice", "--delete", n.id]);
    expect(again.code).toBe(5);
  });

  it("a holder sends one for the resource they hold (human output, a duration for --until); not for others: exit 4", async () => {
    const refused = await labhog(["notice", "host2", "please log out"], "bob");
    expect(refused.code).toBe(4);
    expect(refused.stderr.trim()).toMatch(/^labhog notice: .*only an admin of host2 or the user holding it now/);
    const b = await labhog(["book", "host2", "--for", "1h", "--json"], "bob");
    expect(b.code, b.stderr).toBe(0);
    const sent = await labhog(["notice", "host2", "please log out, flashing now", "--until", "2h"], "bob");
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/^notice n-[0-9a-f]{32} on host2 until \d\d:\d\d\n$|^notice n-[0-9a-f]{32} on host2 until \d{4}-\d\d-\d\d \d\d:\d\d\n$/);
    expect((await labhog(["notice", "host1", "x"], "bob")).code).toBe(4);
    expect((await labhog(["notice", "--all", "x"], "bob")).code).toBe(4);
    const id = /notice (n-[0-9a-f]{32})/.exec(sent.stdout)![1]!;
    expect((await labhog(["notice", "--delete", id], "bob")).code).toBe(0);
  });

  it("usage and validation errors: exit 2 for the command line, 3 for what the API refuses", async () => {
    expect((await labhog(["notice"])).code).toBe(2);
    expect((await labhog(["notice", "only text"])).code).toBe(2); // for whom?
    expect((await labhog(["notice", "--pool", "boards", "--all", "x"])).code).toBe(2);
    expect((await labhog(["notice", "host1", "x", "--until", "not a time"])).code).toBe(2);
    expect((await labhog(["notice", "--list", "--delete", "n-1"])).code).toBe(2);
    expect((await labhog(["notice", "host1", "x", "--bogus"])).code).toBe(2);
    const long = await labhog(["notice", "host1", "x".repeat(501)]);
    expect(long.code).toBe(3);
    expect(long.stderr).toMatch(/^labhog notice: .*text/);
    expect((await labhog(["notice", "host1", "x", "--until", "40d"])).code).toBe(3);
    expect((await labhog(["notice", "nosuch", "x"])).code).toBe(5);
    const help = await labhog(["notice", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: labhog notice <resource…|--pool P|--all> "text" [--until 18:00]');
  });
});
