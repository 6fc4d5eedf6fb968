/**
 * What each `labhog` command accepts, in one table: the commands parse their
 * arguments with these options, `labhog <command> --help` prints them, and
 * the bash/zsh completion scripts are generated from them. One table means
 * the help can't list an option the parser refuses, or miss one it takes.
 *
 * This file imports nothing: `labhog status` (what a locked-out user's ssh
 * login runs) must start fast.
 */
export type Completion = "resource" | "reservation" | "pool" | "file" | "dir" | "command" | "shell";

export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  /** Placeholder shown in help: `--for <2h>`. */
  arg?: string;
  help: string;
  complete?: Completion;
}

export interface CommandSpec {
  summary: string;
  /** The line after `usage:`. */
  usage: string;
  /** Paragraphs under the usage line. */
  details?: string;
  options: Record<string, OptionSpec>;
  /** What the positional arguments are, for completion. */
  positional?: Completion;
  examples?: string[];
}

const json = { type: "boolean", help: "print the API's JSON instead of text (also turns progress lines into JSON)" } satisfies OptionSpec;

const what = {
  pool: { type: "string", arg: "P", help: "any free resource of pool P (resources whose agent is offline are skipped)", complete: "pool" },
  tag: { type: "string", multiple: true, arg: "k=v", help: "any free resource with this tag; all given tags must match" },
} satisfies Record<string, OptionSpec>;

const bookOptions = {
  ...what,
  for: { type: "string", arg: "2h", help: "length: 90s, 30m, 2h, 1h30m, 1d, PT2H or seconds (default: the lab's defaultDuration)" },
  until: { type: "string", arg: "18:00", help: 'end: 18:00 (today, or tomorrow when past), "2027-01-05 09:00" or ISO' },
  start: { type: "string", arg: "when", help: "a later start (same forms as --until)" },
  shared: { type: "boolean", help: "not exclusive: others may book it too; the agent announces but does not lock" },
  purpose: { type: "string", arg: "text", help: "what it is for (shown in the calendar and on the status page)" },
  image: { type: "string", arg: "ref", help: "the image the board should run" },
  mode: { type: "string", arg: "name", help: "the mode the board should be in (power/flash sequence)" },
  holder: { type: "string", arg: "user", help: "book for someone else (admins only)" },
  wait: { type: "string", arg: "2m", help: "wait for the slot to free up, up to this long (at most 10m)" },
  json,
} satisfies Record<string, OptionSpec>;

/** A recurring booking (book only): `--every tue,thu --from 09:00 --for 3h --until 2027-03-01`. */
const seriesOptions = {
  every: { type: "string", arg: "tue,thu", help: "repeat: days of the week (mon…sun), or day, week, month; --until then ends the series (a date) unless --count" },
  from: { type: "string", arg: "09:00", help: "with --every: the first occurrence's start (same forms as --start)" },
  count: { type: "string", arg: "N", help: "with --every: this many occurrences instead of --until" },
  "skip-conflicts": { type: "boolean", help: "with --every: leave out the occurrences that conflict (refused anyway when more than half do)" },
} satisfies Record<string, OptionSpec>;

export const SPECS = {
  book: {
    summary: "book a resource, any free one of a pool, or several at once",
    usage: "labhog book <resource…|--pool P|--tag k=v> [--for 2h|--until 18:00] [--every tue,thu --from 09:00 (--until DATE|--count N)] [options]",
    details: "Books now, or at --start. Several resources are booked all or none. With --every, a recurring booking on one resource: each occurrence is checked for conflicts.",
    options: { ...bookOptions, ...seriesOptions },
    positional: "resource",
    examples: ['labhog book rock5b-1 --for 2h --purpose "u-boot bring-up"', "labhog book --pool rk3588 --until 18:00 --wait 5m", "labhog book host1 --every tue,thu --from 09:00 --for 3h --until 2027-03-01"],
  },
  extend: {
    summary: "extend a reservation: --for adds to its end, --until sets it",
    usage: "labhog extend <id|resource> (--for 1h | --until 18:00)",
    details: "A resource name means your current (else next) reservation there.",
    options: {
      for: { type: "string", arg: "1h", help: "add this much to the current end" },
      until: { type: "string", arg: "18:00", help: "set the end" },
      json,
    },
    positional: "reservation",
  },
  release: {
    summary: "end a running reservation now, or cancel a future one",
    usage: "labhog release <id|resource>",
    options: { json },
    positional: "reservation",
  },
  ls: {
    summary: "list reservations (yours by default)",
    usage: "labhog ls [resource] [--all] [--pool P] [--until when]",
    options: {
      all: { type: "boolean", help: "everyone's reservations" },
      pool: what.pool,
      until: { type: "string", arg: "when", help: "only those starting before this" },
      json,
    },
    positional: "resource",
  },
  stats: {
    summary: "usage statistics from the calendars: hours booked, used, idle, unbooked use, no-shows, utilisation",
    usage: "labhog stats [--from when] [--to when] [--by resource|pool|user] [--json|--csv]",
    details: "The window is the last 7 days unless --from/--to say otherwise (at most 400 days). Used time is what the agents reported while the holder was logged in, plus unbooked use; utilisation is used time over the window times the group's resources.",
    options: {
      from: { type: "string", arg: "when", help: 'start: "2026-05-04", "2026-05-04 09:00", ISO, or a duration back from now (30d)' },
      to: { type: "string", arg: "when", help: "end (same forms as --from; default now)" },
      by: { type: "string", arg: "resource|pool|user", help: "one row per resource (default), pool or user" },
      csv: { type: "boolean", help: "comma-separated values, a header line first" },
      json,
    },
    examples: ["labhog stats", "labhog stats --from 90d --by pool", "labhog stats --from 2026-05-01 --to 2026-06-01 --by user --csv"],
  },
  status: {
    summary: "on a host: who holds it until when; --lab: the whole lab from the server",
    usage: "labhog status [--file status.json] | labhog status --lab [--pool P] [--tag k=v]",
    details: "Without --lab it reads the local agent's status file (no network): this is what a locked-out user's SSH key runs.",
    options: {
      lab: { type: "boolean", help: "a table of the whole lab from the server, like the status page" },
      file: { type: "string", arg: "status.json", help: "the agent's status file (default: $LABHOG_STATE_DIR/status.json)", complete: "file" },
      ...what,
      json,
    },
  },
  wait: {
    summary: "wait until a resource (or one of a pool) is free; does not book it",
    usage: "labhog wait <resource|--pool P|--tag k=v> [--timeout 1h] [--interval 5s]",
    options: {
      ...what,
      timeout: { type: "string", arg: "1h", help: "give up after this long (exit 6)" },
      interval: { type: "string", arg: "5s", help: "how often to ask" },
      json,
    },
    positional: "resource",
  },
  lease: {
    summary: "hold a booking while a command runs (CI); released when it exits",
    usage: "labhog lease <what to book> [--ttl 60s] [book options] -- <command> [args…]",
    details:
      "The lease is renewed every ttl/3 while the command runs. If labhog itself is killed, the renewals stop and the server ends the reservation within the TTL. Exits with the command's exit code.",
    options: { ...bookOptions, ttl: { type: "string", arg: "60s", help: "lease time-to-live (at least 10s)" } },
    positional: "resource",
    examples: ['labhog lease --pool rk3588 --ttl 60s --purpose "CI $CI_JOB_ID" -- ./run-hw-tests.sh'],
  },
  attach: {
    summary: "attach a resource's USB devices over usbip (on the holder's machine)",
    usage: "labhog attach <resource> [--host <agent-host>] [--login L] [--device vvvv:pppp]… [--once] [--keep] [--interval 2s]",
    details:
      "Finds the resource's host and USB devices through the API, opens an SSH tunnel to the host as your login there (usbipd answers only the holder's own processes on the host), and attaches the devices through it (usbip attach), then keeps them attached: a device that comes back on another bus id (a reset, DFU mode) is attached again. Ctrl-C detaches them unless --keep. Needs vhci-hcd and root.",
    options: {
      host: { type: "string", arg: "host", help: "the agent's host instead of the API's (else $LABHOG_USBIP_HOST)" },
      login: { type: "string", arg: "L", help: "your unix login on the host (default: your ssh config's, else your local name)" },
      "ssh-port": { type: "string", arg: "22", help: "the host's SSH port" },
      "ssh-config": { type: "string", arg: "file", help: "an ssh config file (ssh -F)", complete: "file" },
      direct: { type: "boolean", help: "no tunnel: talk to usbipd on the host directly (only where the agent has holderOnly: false)" },
      device: { type: "string", multiple: true, arg: "vvvv:pppp", help: "only this device (default: the resource's, from the API)" },
      once: { type: "boolean", help: "attach once and exit" },
      keep: { type: "boolean", help: "leave the devices attached on exit" },
      interval: { type: "string", arg: "2s", help: "how often to check the exports (at least 100ms)" },
      usbip: { type: "string", arg: "path", help: "the usbip program (default: $LABHOG_USBIP or usbip)", complete: "file" },
    },
    positional: "resource",
  },
  console: {
    summary: "the board's serial console through the Worker (the holder only)",
    usage: "labhog console <resource|id> [--watch] | labhog console --log <resource|id>",
    details:
      "Opens the serial console of the board you hold, from anywhere: a raw terminal, as if the board were on your desk. ~. after a newline leaves (~~ sends one ~). The session ends when the booking does. Refused (403, exit 4) unless you hold the board now; admins may --watch.",
    options: {
      watch: { type: "boolean", help: "read-only: watch the console (admins)" },
      log: { type: "boolean", help: "print the reservation's console log (both directions, timestamped), during or after the booking" },
    },
    positional: "resource",
    examples: ["labhog console rock5b-1", "labhog console --log rock5b-1 > rock5b-1-console.log"],
  },
  keygen: {
    summary: "make the Ed25519 key pair that signs schedules",
    usage: "labhog keygen [--kid K] [--out DIR]",
    details: "The private JWK is the Worker's SCHEDULE_SIGNING_KEY secret; the public JWK goes into every agent's trustedKeys. Never overwrites a file.",
    options: {
      kid: { type: "string", arg: "K", help: "key id (default labhog-<date>)" },
      out: { type: "string", arg: "DIR", help: "write the two files there instead of printing them", complete: "dir" },
    },
  },
  agent: {
    summary: "run the edge agent daemon",
    usage: "labhog agent [--config agent.yaml] [--check] [--simulate]",
    options: {
      config: { type: "string", short: "c", arg: "agent.yaml", help: "the agent file (default /etc/labhog/agent.yaml)", complete: "file" },
      check: { type: "boolean", help: "validate the file and print what the agent would do, then exit" },
      simulate: { type: "boolean", help: "drivers only report what they would do" },
    },
  },
  notice: {
    summary: "leave a message for the people on a resource: motd, wall, tmux, status page, calendar",
    usage: 'labhog notice <resource…|--pool P|--all> "text" [--until 18:00] | labhog notice --list | labhog notice --delete ID',
    details:
      "The notice reaches the hosts' motd, wall and tmux popups for the users logged in there (inside the signed schedule), the status page as a banner, and the resource's calendar as a transparent event. It ends by itself at --until (default 24 hours, at most 30 days). Admins may send one for anything; the user holding a resource, for that resource.",
    options: {
      pool: { type: "string", arg: "P", help: "every resource of pool P", complete: "pool" },
      all: { type: "boolean", help: "every resource of the lab (admins)" },
      until: { type: "string", arg: "18:00", help: 'when it ends: 18:00 (today, or tomorrow when past), "2027-01-05 09:00", ISO, or a duration like 2h (default 24h)' },
      list: { type: "boolean", help: "list the standing notices (with --pool or a resource: only theirs)" },
      delete: { type: "string", arg: "ID", help: "delete a notice everywhere (its sender or an admin)" },
      json,
    },
    positional: "resource",
    examples: ['labhog notice rock5b-1 "reflashing the bootloader, do not power-cycle" --until 18:00', 'labhog notice --pool rk3588 "new firmware on the boards" --until 2d', "labhog notice --list", "labhog notice --delete n-0123…"],
  },
  completion: {
    summary: "print the shell completion script for bash or zsh",
    usage: "labhog completion <bash|zsh>",
    details: 'bash: add  eval "$(labhog completion bash)"  to ~/.bashrc.  zsh: add  eval "$(labhog completion zsh)"  to ~/.zshrc (after compinit).',
    options: {},
    positional: "shell",
  },
} satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof SPECS;

type ParseOption<O extends OptionSpec> = { type: O["type"] } & (O extends { multiple: true } ? { multiple: true } : unknown) & (O extends { short: string } ? { short: string } : unknown);

/** The option table in node:util parseArgs' shape (typed, so parsed values keep their types). */
export function parseOptions<S extends Record<string, OptionSpec>>(options: S): { [K in keyof S]: ParseOption<S[K]> } {
  const out: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {};
  for (const [name, o] of Object.entries(options)) {
    out[name] = { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) };
  }
  return out as { [K in keyof S]: ParseOption<S[K]> };
}

/** `labhog <command> --help`. */
export function commandHelp(name: string, spec: CommandSpec): string {
  const lines = [`usage: ${spec.usage}`, "", spec.summary + "."];
  if (spec.details) lines.push("", ...wrap(spec.details, 78));
  const opts = Object.entries(spec.options);
  const flag = (n: string, o: OptionSpec) => `${o.short ? `-${o.short}, ` : ""}--${n}${o.arg ? ` <${o.arg}>` : ""}`;
  const all: Array<[string, string]> = [...opts.map(([n, o]): [string, string] => [flag(n, o), o.help + (o.multiple ? " (repeatable)" : "")]), ["-h, --help", "this help"]];
  const w = Math.min(28, Math.max(...all.map(([f]) => f.length)));
  lines.push("", "options:");
  for (const [f, h] of all) {
    const [first, ...rest] = wrap(h, 78 - w - 4);
    lines.push(`  ${f.padEnd(w)}  ${f.length > w ? `\n  ${"".padEnd(w)}  ` : ""}${first}`);
    for (const r of rest) lines.push(`  ${"".padEnd(w)}  ${r}`);
  }
  if (spec.examples?.length) lines.push("", "examples:", ...spec.examples.map((e) => `  ${e}`));
  lines.push("", `See docs/cli.md for exit codes. labhog help lists every command.`);
  void name;
  return lines.join("\n").replace(/ +\n/g, "\n");
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
