import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ScheduleEntry } from "../../../calendar/schedule/schedule.ts";
import type { Driver, DriverContext } from "../driver.ts";
import { execOf, type Deps, type ExecFn } from "../deps.ts";
import { writeFileAtomic } from "../../agent/atomic-file.ts";
import { motdText } from "./motd.ts";
import { printable } from "./printable.ts";
import { tmuxPopups } from "./tmux.ts";

export interface NotifyDeps extends Deps {
  resource: string;
  stateDir: string;
  /** motd snippet path, or false. */
  motd: string | false;
  wall: boolean;
  tmux: boolean;
  statusUrl?: string;
  /** Reminder lead (notify.endingSoon). */
  endingSoonMs?: number;
  now?: () => Date;
}

/**
 * notify: keeps a motd snippet with today's reservations, and tells logged-in
 * users (wall, and a tmux popup per client) when the holder changes, when the
 * schedule changes and shortly before the end.
 */
export class NotifyDriver implements Driver {
  readonly name = "notify";
  private lastMotd = "";
  /** What was last announced (`id|end`), persisted so a restart does not re-announce. */
  private announced: string | null = null;
  private reminded: string | null = null;
  /** Announcements run one after another in the background: they never delay enforcement. */
  private pending: Promise<void> = Promise.resolve();
  private readonly exec: ExecFn;

  constructor(private readonly deps: NotifyDeps) {
    this.exec = execOf(deps);
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  async scheduleChanged(entries: readonly ScheduleEntry[], ctx: DriverContext): Promise<void> {
    const text = motdText(this.deps.resource, entries, this.now(), this.deps.statusUrl);
    if (text === this.lastMotd) return;
    const first = this.lastMotd === "";
    this.lastMotd = text;
    if (this.deps.motd !== false) {
      if (ctx.simulate) ctx.emit({ action: "would-write-motd", ok: true, message: this.deps.motd });
      else {
        await mkdir(dirname(this.deps.motd), { recursive: true });
        await writeFileAtomic(this.deps.motd, text, 0o644);
        ctx.emit({ action: "motd", ok: true, message: this.deps.motd });
      }
    }
    // At start-up the motd is refreshed silently; later changes are announced.
    if (!first) await this.announce(`schedule of ${this.deps.resource} changed:\n${text}`, ctx);
  }

  state(): { announced: string | null; reminded: string | null } {
    return { announced: this.announced, reminded: this.reminded };
  }

  async restore(saved: unknown): Promise<void> {
    const s = saved as { announced?: unknown; reminded?: unknown } | undefined;
    if (typeof s?.announced === "string") this.announced = s.announced;
    if (typeof s?.reminded === "string") this.reminded = s.reminded;
  }

  /** Resolves when queued announcements are done (tests, shutdown). */
  idle(): Promise<void> {
    return this.pending;
  }

  async apply(entry: ScheduleEntry, ctx: DriverContext): Promise<void> {
    const key = `${entry.id}|${entry.end}`;
    if (this.announced === key) return;
    this.announced = key;
    await this.announce(`${this.deps.resource} is now ${entry.exclusive ? "held" : "shared"} by ${printable(entry.holder.id)} until ${entry.end}${this.deps.statusUrl ? ` (${this.deps.statusUrl})` : ""}`, ctx, entry);
  }

  async release(ctx: DriverContext): Promise<void> {
    if (this.announced === null) return;
    this.announced = null;
    await this.announce(`${this.deps.resource} is free again`, ctx);
  }

  async endingSoon(entry: ScheduleEntry, ctx: DriverContext): Promise<void> {
    const key = `${entry.id}|${entry.end}`;
    // A reservation shorter than the reminder lead gets none: "ends in" at its start is noise.
    if (this.reminded === key || Date.parse(entry.end) - Date.parse(entry.start) <= (this.deps.endingSoonMs ?? 600_000)) return;
    this.reminded = key;
    const mins = Math.max(0, Math.round((Date.parse(entry.end) - this.now().getTime()) / 60_000));
    await this.announce(`the reservation of ${this.deps.resource} by ${printable(entry.holder.id)} ends in ${mins} min (${entry.end}): save your work`, ctx, entry);
  }

  private announce(message: string, ctx: DriverContext, entry?: ScheduleEntry): Promise<void> {
    const run = () => this.send(message, ctx, entry).catch((e) => ctx.log.warn("announcement failed", { error: e as Error }));
    this.pending = this.pending.then(run, run);
    return Promise.resolve();
  }

  private async send(message: string, ctx: DriverContext, entry?: ScheduleEntry): Promise<void> {
    const msg = `labhog: ${message}`;
    const ids = entry ? { holder: entry.holder.id, reservation: entry.id } : {};
    if (ctx.simulate) {
      ctx.emit({ action: "would-notify", ok: true, message: msg, ...ids });
      return;
    }
    if (this.deps.wall) {
      try {
        await this.exec("wall", [msg], { timeout: 10_000 });
        ctx.emit({ action: "wall", ok: true, message: msg, ...ids });
      } catch (e) {
        ctx.emit({ action: "wall", ok: false, message: (e as Error).message, ...ids });
      }
    }
    if (this.deps.tmux) {
      try {
        const file = join(this.deps.stateDir, "notify", `${encodeURIComponent(this.deps.resource)}.txt`);
        await mkdir(dirname(file), { recursive: true, mode: 0o755 });
        await writeFileAtomic(file, msg + "\n", 0o644);
        const n = await tmuxPopups(this.exec, file, "labhog");
        if (n) ctx.emit({ action: "tmux-popup", ok: true, message: `${n} client(s)`, ...ids });
      } catch (e) {
        ctx.emit({ action: "tmux-popup", ok: false, message: (e as Error).message, ...ids });
      }
    }
  }
}
