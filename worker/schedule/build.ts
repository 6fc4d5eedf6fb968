import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { userConfigOf } from "../../calendar/lab.ts";
import type { Reservation } from "../../calendar/model.ts";
import { scheduleEntrySchema, scheduleNoticeSchema, type Schedule, type ScheduleEntry, type ScheduleNotice } from "../../calendar/schedule/schedule.ts";
import type { Logger } from "../log.ts";

/**
 * The schedule an agent enforces: active and upcoming reservations in the
 * window, conflict losers and holders nobody knows left out. Fields a
 * calendar user could fill with anything (image, mode) are dropped when they
 * fail the schedule's own validation rather than failing the whole schedule.
 */
export function buildSchedule(lab: LabConfig, resource: string, seq: number, now: Date, windowMs: number, reservations: Reservation[], log: Logger, notices: readonly ScheduleNotice[] = []): Schedule {
  const entries: ScheduleEntry[] = [];
  for (const r of reservations) {
    if (r.state === "conflict" || r.state === "ended" || !r.holder.id) continue;
    const user = userConfigOf(lab, r.holder.id);
    if (!user) continue;
    const unix = typeof user.unix === "string" ? [user.unix] : user.unix;
    const base = { id: r.id, holder: { id: r.holder.id, unix, keys: user.sshKeys }, start: r.start, end: r.end, exclusive: r.exclusive };
    const full = { ...base, ...(r.mode ? { mode: r.mode } : {}), ...(r.image ? { image: r.image } : {}) };
    const parsed = scheduleEntrySchema.safeParse(full);
    if (parsed.success) entries.push(parsed.data);
    else {
      const bare = scheduleEntrySchema.safeParse(base);
      log.warn("schedule entry trimmed", { reservation: r.id, issues: parsed.error.issues.map((i) => i.path.join(".")) });
      if (bare.success) entries.push(bare.data);
    }
  }
  // Notices standing now (ended ones are left out); absent rather than empty, so a lab without notices signs what it always did.
  const standing = notices.filter((n) => Date.parse(n.until) > now.getTime()).flatMap((n) => {
    const p = scheduleNoticeSchema.safeParse({ id: n.id, text: n.text, until: n.until, by: n.by });
    if (!p.success) log.warn("notice left out of the schedule", { notice: n.id });
    return p.success ? [p.data] : [];
  });
  return { v: 1, resource, seq, issuedAt: now.toISOString(), validUntil: new Date(now.getTime() + windowMs).toISOString(), entries, ...(standing.length ? { notices: standing.slice(0, 50) } : {}) };
}
