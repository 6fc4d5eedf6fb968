import { describe, expect, it, beforeAll } from "vitest";
import { SPECS } from "../../edge-agent/cli/spec.ts";
import { cliEnv, runLabhog } from "./cli-lab.ts";
import { bashCompletes, labhogOnPath, zshCompletes } from "./completion-shells.ts";
import { tmpdir } from "node:os";

/**
 * The CLI explains itself without a server: per-command help from the same
 * table the commands parse with, and bash/zsh completion run in real shells.
 * (Names from the server are completed in cli.test.ts, against the Worker.)
 */
const env = () => cliEnv(tmpdir(), { LABHOG_URL: "http://127.0.0.1:9" });
const names = Object.keys(SPECS) as Array<keyof typeof SPECS>;

describe("labhog <command> --help", () => {
  it("every command answers --help, -h and `help <command>` with its usage and every option it accepts, exit 0", async () => {
    for (const name of names) {
      const spec = SPECS[name];
      const long = await runLabhog([name, "--help"], env());
      expect(long.code, `${name}: ${long.stderr}`).toBe(0);
      expect(long.stderr).toBe("");
      expect(long.stdout.split("\n")[0]).toBe(`usage: ${spec.usage}`);
      for (const opt of Object.keys(spec.options)) expect(long.stdout, `${name} --${opt}`).toMatch(new RegExp(`^  (-\\w, )?--${opt}\\b`, "m"));
      const short = await runLabhog([name, "-h"], env());
      const viaHelp = await runLabhog(["help", name], env());
      expect(short.stdout).toBe(long.stdout);
      expect(viaHelp.stdout).toBe(long.stdout);
    }
  }, 120_000);

  it("`labhog book --help` documents the duration and time forms and the examples", async () => {
    const r = await runLabhog(["book", "--help"], env());
    expect(r.stdout).toContain("--for <2h>");
    expect(r.stdout).toContain("1h30m");
    expect(r.stdout).toMatch(/^examples:\n {2}labhog book /m);
  });

  it("an unknown option is one line that points at --help, exit 2; `help nosuch` exits 2", async () => {
    const r = await runLabhog(["book", "host1", "--bogus"], env());
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([`labhog book: Unknown option '--bogus' (labhog book --help)`]);
    expect((await runLabhog(["help", "nosuch"], env())).code).toBe(2);
  });

  it("after lease's --, --help belongs to the command, not to labhog", async () => {
    const r = await runLabhog(["lease", "host1", "--", "echo", "--help"], env());
    // Not the help text: lease tried to book, and the (closed) server could not be reached.
    expect(r.stdout).not.toContain("usage:");
    expect(r.code).toBe(7);
    expect(r.stderr).toContain("cannot reach http://127.0.0.1:9");
  });
});

describe("labhog completion", () => {
  let path: string;
  beforeAll(async () => {
    path = await labhogOnPath();
  });

  it("bash: commands, each command's options (from the spec), shells, files, and the command after lease's --", async () => {
    expect(await bashCompletes("labhog ", path, env())).toEqual([...names, "help"].sort());
    expect(await bashCompletes("labhog bo", path, env())).toEqual(["book"]);
    for (const name of names) {
      const offered = await bashCompletes(`labhog ${name} --`, path, env());
      expect(offered, name).toEqual([...Object.keys(SPECS[name].options).map((o) => `--${o}`), "--help"].sort());
    }
    expect(await bashCompletes("labhog completion ", path, env())).toEqual(["bash", "zsh"]);
    expect(await bashCompletes("labhog agent --config /etc/host", path, env())).toContain("/etc/hostname");
    expect(await bashCompletes("labhog lease host1 -- ech", path, env())).toContain("echo");
    // A server that can't be reached offers nothing, and prints nothing into the prompt.
    expect(await bashCompletes("labhog book ", path, env())).toEqual([]);
  }, 120_000);

  it("zsh: the same, through zsh's own completion system on a pty", async () => {
    expect(await zshCompletes("labhog bo", path, env())).toEqual(["book"]);
    expect(await zshCompletes("labhog book --po", path, env())).toEqual(["--pool"]);
    expect(await zshCompletes("labhog lease --tt", path, env())).toEqual(["--ttl"]);
    expect(await zshCompletes("labhog completion ", path, env())).toEqual(["bash", "zsh"]);
    expect(await zshCompletes("labhog lease host1 -- ech", path, env())).toContain("echo");
    const all = await zshCompletes("labhog ex", path, env());
    expect(all).toEqual(["extend"]);
  }, 120_000);

  it("an unknown shell is a usage error", async () => {
    const r = await runLabhog(["completion", "fish"], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^labhog completion: say which shell/);
  });
});
