import { createHash } from "node:crypto";
import { appendFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * One reservation's console log under `<stateDir>/console/<resource>/`:
 * one line per chunk, `<ISO time> <direction> <JSON string>` where `>` is
 * what the holder typed (written to the board) and `<` what the board sent.
 * JSON strings keep control characters readable and the lines
 * unambiguous. Bounded: past `maxBytes` the oldest half is dropped (a
 * marker line says so), so a chatty board can't fill the disk.
 */
export type Direction = ">" | "<";

const fileName = (reservation: string) => `${createHash("sha256").update(reservation).digest("hex").slice(0, 40)}.log`;

export class ConsoleLog {
  #size = -1;
  #chain: Promise<unknown> = Promise.resolve();
  readonly path: string;

  constructor(readonly dir: string, readonly reservation: string, private readonly maxBytes: number) {
    this.path = join(dir, fileName(reservation));
  }

  /** The log of a reservation, finished or running; undefined when there is none. */
  static async read(dir: string, reservation: string): Promise<string | undefined> {
    return readFile(join(dir, fileName(reservation)), "utf8").catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return undefined;
      throw e;
    });
  }

  /** Keeps the newest `keep` logs of the folder. */
  static async prune(dir: string, keep: number): Promise<void> {
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".log"));
    const withTime = await Promise.all(names.map(async (n) => ({ n, t: (await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
    withTime.sort((a, b) => b.t - a.t);
    for (const { n } of withTime.slice(keep)) await rm(join(dir, n), { force: true });
  }

  /** Appends in order (one chain), so lines never interleave. */
  append(dir: Direction, bytes: Uint8Array, at = new Date()): Promise<void> {
    const line = `${at.toISOString()} ${dir} ${JSON.stringify(Buffer.from(bytes).toString("utf8"))}\n`;
    const run = this.#chain.then(() => this.#write(line));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  note(text: string, at = new Date()): Promise<void> {
    const line = `${at.toISOString()} # ${text}\n`;
    const run = this.#chain.then(() => this.#write(line));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  flushed(): Promise<unknown> {
    return this.#chain;
  }

  async #write(line: string): Promise<void> {
    if (this.#size < 0) {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      this.#size = (await stat(this.path).catch(() => undefined))?.size ?? 0;
    }
    await appendFile(this.path, line, { mode: 0o600 });
    this.#size += Buffer.byteLength(line);
    if (this.#size > this.maxBytes) await this.#trim();
  }

  async #trim(): Promise<void> {
    const text = await readFile(this.path, "utf8");
    let cut = text.length - Math.floor(this.maxBytes / 2);
    cut = text.indexOf("\n", Math.max(0, cut)) + 1;
    const kept = `${new Date().toISOString()} # earlier lines dropped: the log is kept under ${this.maxBytes} bytes\n${text.slice(cut)}`;
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, kept, { mode: 0o600 });
    await rename(tmp, this.path);
    this.#size = Buffer.byteLength(kept);
  }
}
