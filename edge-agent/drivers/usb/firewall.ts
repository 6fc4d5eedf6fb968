import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecFn } from "../deps.ts";
import { ExecError } from "../deps.ts";
import { serialQueue } from "../../../calendar/serial-queue.ts";

/**
 * Who may talk to usbipd. usbipd has no access control of its own: whoever
 * reaches its TCP port can list and attach every bound device. So the agent
 * keeps one nftables table while a booking runs:
 *
 * - from the network (any interface but lo), the port is refused outright;
 * - on lo, only sockets owned by the holder's unix uids get through
 *   (`meta skuid`, which nftables can only see in the OUTPUT hook, where the
 *   connecting socket is local). That is the holder's SSH tunnel: sshd opens
 *   a `-L` forward from the session's own process, which runs as the login.
 *
 * Refusals are TCP resets rather than silent drops, so `usbip attach`
 * through somebody else's tunnel fails at once with a clear error.
 * The table is replaced atomically on every change (one `nft -f`
 * transaction) and deleted on release. Nothing is saved: after a reboot the
 * table is gone, and so are usbip bindings, so nothing is exported either.
 */
export const TABLE = "labhog_usbip";

export interface FirewallRules {
  port: number;
  /** Numeric uids allowed through lo; empty: nobody. */
  uids: readonly number[];
}

const checkPort = (p: number) => {
  if (!Number.isInteger(p) || p < 1 || p > 65_535) throw new Error(`bad usbipd port ${p}`);
};
const checkUid = (u: number) => {
  if (!Number.isInteger(u) || u < 0 || u > 4_294_967_294) throw new Error(`bad uid ${u}`);
};

/**
 * The ruleset text for `nft -f`. Only numbers reach it (the port, uids
 * looked up by the agent), so no calendar or user text is ever parsed by nft.
 * The leading `table …` + `delete table …` pair makes the replacement one
 * transaction that also works when the table does not exist yet.
 */
export function rulesetText(rules: FirewallRules | readonly FirewallRules[]): string {
  const list = Array.isArray(rules) ? (rules as readonly FirewallRules[]) : [rules as FirewallRules];
  // One usbipd serves every resource of the host: the uids of all current holders, per port.
  const byPort = new Map<number, Set<number>>();
  for (const r of list) {
    checkPort(r.port);
    r.uids.forEach(checkUid);
    const set = byPort.get(r.port) ?? new Set<number>();
    r.uids.forEach((u) => set.add(u));
    byPort.set(r.port, set);
  }
  const ports = [...byPort.keys()].sort((a, b) => a - b);
  const network = ports.map((p) => `    iifname != "lo" tcp dport ${p} counter reject with tcp reset`);
  const local = ports.map((p) => {
    const uids = [...byPort.get(p)!].sort((a, b) => a - b);
    return uids.length
      ? `    oifname "lo" tcp dport ${p} meta skuid != { ${uids.join(", ")} } counter reject with tcp reset`
      : `    oifname "lo" tcp dport ${p} counter reject with tcp reset`;
  });
  return [
    `table inet ${TABLE} {}`,
    `delete table inet ${TABLE}`,
    `table inet ${TABLE} {`,
    `  chain from_network {`,
    `    type filter hook input priority filter - 10; policy accept;`,
    ...network,
    `  }`,
    `  chain from_this_host {`,
    `    type filter hook output priority filter - 10; policy accept;`,
    ...local,
    `  }`,
    `}`,
    "",
  ].join("\n");
}

/** Removes the table; nothing to do when it is not there. */
export const removeText = (): string => `table inet ${TABLE} {}\ndelete table inet ${TABLE}\n`;

/**
 * The one table of this host, shared by the usb drivers of all its
 * resources (one agent process): each sets its holder's uids, the table
 * holds them all, and it goes when the last resource lets go. usbipd can't
 * tell devices apart by client, so while two usb resources of one host are
 * booked, either holder could attach the other's exported devices
 * (docs/security.md).
 */
const holders = new Map<string, FirewallRules>();
/** One nft transaction at a time for the whole agent: every usb resource shares the table. */
const tableQueue = serialQueue();

export class UsbipFirewall {
  constructor(private readonly exec: ExecFn, private readonly nft = "nft", private readonly timeout = 10_000) {}

  /** `resource`'s holder uids; the table is rewritten with every resource's. */
  allow(resource: string, r: FirewallRules): Promise<void> {
    return this.serialized(async () => {
      const next = new Map(holders).set(resource, { port: r.port, uids: [...r.uids] });
      await this.run(rulesetText([...next.values()]));
      holders.set(resource, { port: r.port, uids: [...r.uids] });
    });
  }

  /** `resource` lets go: the table keeps the others' holders, or is removed when none is left (also a leftover from a crash). */
  remove(resource: string): Promise<void> {
    return this.serialized(async () => {
      const next = new Map(holders);
      next.delete(resource);
      await this.run(next.size ? rulesetText([...next.values()]) : removeText());
      holders.delete(resource);
    });
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    return tableQueue(fn);
  }

  /** Whether the table is in place now (for restore and tests). */
  async present(): Promise<boolean> {
    try {
      await this.exec(this.nft, ["list", "table", "inet", TABLE], { timeout: this.timeout });
      return true;
    } catch (e) {
      if (e instanceof ExecError && /no such file|does not exist/i.test(e.stderr)) return false;
      throw e;
    }
  }

  /** `nft -f FILE` with a private temporary file (the agent's exec has no stdin). */
  private async run(text: string): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), "labhog-nft-"));
    try {
      const file = join(dir, "usbip.nft");
      await writeFile(file, text, { mode: 0o600 });
      await this.exec(this.nft, ["-f", file], { timeout: this.timeout });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/**
 * The numeric uids of `logins` (NSS through getent, so LDAP or sssd users
 * count too). Logins are the schedule's, already checked against the unix
 * login pattern; one that does not exist here is returned in `missing`.
 */
export async function uidsOf(exec: ExecFn, logins: readonly string[], getent = "getent"): Promise<{ uids: number[]; missing: string[] }> {
  const uids: number[] = [];
  const missing: string[] = [];
  for (const login of logins) {
    try {
      const { stdout } = await exec(getent, ["passwd", "--", login], { timeout: 10_000 });
      const uid = Number(stdout.split(":")[2]);
      if (Number.isInteger(uid) && uid >= 0) uids.push(uid);
      else missing.push(login);
    } catch {
      missing.push(login);
    }
  }
  return { uids, missing };
}
