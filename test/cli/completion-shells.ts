import { execFile } from "node:child_process";
import { chmod, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { tempDir } from "../services/process.ts";
import { BIN } from "./cli-lab.ts";

const run = promisify(execFile);
const here = import.meta.dirname;

/** A folder with a `labhog` on it that runs this checkout's binary, as an installed one would be on PATH. */
export async function labhogOnPath(): Promise<string> {
  const dir = await tempDir("path");
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  await writeFile(join(dir, "labhog"), `#!/bin/sh\nexec ${q(process.execPath)} ${q(BIN)} "$@"\n`);
  await chmod(join(dir, "labhog"), 0o755);
  return dir;
}

/** What bash (real bash, the generated script) offers for the last word of `line`. */
export async function bashCompletes(line: string, pathDir: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const { stdout } = await run("bash", ["--norc", "--noprofile", join(here, "bash-complete.sh"), line], {
    env: { ...env, PATH: `${pathDir}:${process.env.PATH}`, HOME: env.HOME ?? tmpdir() },
    timeout: 30_000,
  });
  return stdout.split("\n").filter(Boolean).sort();
}

/** What zsh's completion system (real zsh on a pty, compinit, the generated script) offers for `line` + Tab. */
export async function zshCompletes(line: string, pathDir: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const { stdout } = await run("zsh", ["-f", join(here, "zsh-complete.zsh"), line], {
    env: { ...env, PATH: `${pathDir}:${process.env.PATH}`, HOME: env.HOME ?? tmpdir(), TERM: "xterm" },
    timeout: 40_000,
  });
  return [...new Set(stdout.split("\n").map((l) => l.trim()).filter(Boolean))].sort();
}
