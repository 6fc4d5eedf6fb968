import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ScheduleEntry, ScheduleNotice } from "../../../calendar/schedule/schedule.ts";
import type { Driver, DriverContext } from "../driver.ts";
import { execOf, type Deps, type ExecFn } from "../deps.ts";
import { writeFileAtomic } from "../../agent/atomic-file.ts";
import { motdText, noticeLine, standing } from "./motd.ts";
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

  /** Notices of the last accepted (signed) schedule, and the ids already sent by wall/tmux (persisted: a restart does not send them again). */
  private notices: readonly ScheduleNotice[] = [];
  private noticed = new Set<string>();
  private entries: readonly ScheduleEntry[] = [];
  private expiry: NodeJS.Timeout | undefined;

  async scheduleChanged(entries: readonly ScheduleEntry[], ctx: DriverContext, notices: readonly ScheduleNotice[] = []): Promise<void> {
    this.entries = entries;
    this.notices = notices;
    const now = this.now();
    const live = standing(notices, now);
    // Once per notice: sent when first seen, never again (and not at all once it has ended).
    for (const n of live) {
      if (this.noticed.has(n.id)) continue;
      this.noticed.add(n.id);
      await this.announce(noticeLine(this.deps.resource, n), ctx);
    }
    // Only ids still in the schedule are remembered: the set stays as small as the notices.
    for (const id of this.noticed) if (!notices.some((n) => n.id === id)) this.noticed.delete(id);
    this.armExpiry(ctx);
    await this.refreshMotd(entries, ctx, live.length > 0 || this.lastMotd.includes("labhog: NOTICE"));
  }

  /** At the earliest `until`, the motd is written again without that notice: it ends on the host even if no new schedule comes. */
  private armExpiry(ctx: DriverContext): void {
    clearTimeout(this.expiry);
    const now = this.now().getTime();
    const next = Math.min(...this.notices.map((n) => Date.parse(n.until)).filter((t) => t > now));
    if (!Number.isFinite(next)) return;
    this.expiry = setTimeout(() => {
      this.armExpiry(ctx);
      void this.refreshMotd(this.entries, ctx, true).catch((e: unknown) => ctx.log.warn("motd refresh failed", { error: e as Error }));
    }, Math.min(next - now + 5, 2 ** 31 - 1));
    this.expiry.unref();
  }

  /** Stops the expiry timer (agent shutdown, tests). */
  close(): void {
    clearTimeout(this.expiry);
  }

  private async refreshMotd(entries: readonly ScheduleEntry[], ctx: DriverContext, quietIfNoticeOnly: boolean): Promise<void> {
    const text = motdText(this.deps.resource, entries, this.now(), this.deps.statusUrl, this.notices);
    if (text === this.lastMotd) return;
    const first = this.lastMotd === "";
    const before = this.lastMotd;
    this.lastMotd = text;
    if (this.deps.motd !== false) {
      if (ctx.simulate) ctx.emit({ action: "would-write-motd", ok: true, message: this.deps.motd });
      else {
        await mkdir(dirname(this.deps.motd), { recursive: true });
        await writeFileAtomic(this.deps.motd, text, 0o644);
        ctx.emit({ action: "motd", ok: true, message: this.deps.motd });
      }
    }
    // At start-up the motd is refreshed silently; later changes are announced. A change of notices
    // alone was announced as the notice itself (or is its end): not again as a schedule change.
    if (first) return;
    if (quietIfNoticeOnly && withoutNotices(before) === withoutNotices(text)) return;
    await this.announce(`schedule of ${this.deps.resource} changed:\n${withoutNotices(text)}`, ctx);
  }

  state(): { announced: string | null; reminded: string | null; noticed: string[] } {
    return { announced: this.announced, reminded: this.reminded, noticed: [...this.noticed] };
  }

  async restore(saved: unknown): Promise<void> {
    const s = saved as { announced?: unknown; reminded?: unknown; noticed?: unknown } | undefined;
    if (typeof s?.announced === "string") this.announced = s.announced;
    if (typeof s?.reminded === "string") this.reminded = s.reminded;
    if (Array.isArray(s?.noticed)) for (const id of s.noticed.slice(0, 100)) if (typeof id === "string") this.noticed.add(id);
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

/** The motd without its notice lines: what "the schedule changed" compares. */
function withoutNotices(motd: string): string {
  return motd
    .split("\n")
    .filter((l) => !l.startsWith("labhog: NOTICE "))
    .join("\n");
}
