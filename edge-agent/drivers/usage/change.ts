import type { UsageSnapshot } from "./index.ts";

/**
 * What counts as a change worth sending: who is logged in, whether they are active,
 * coarse load, devices, power, collectors. Idle seconds and exact CPU figures move
 * all the time and would turn "only changes" into "every poll".
 */
export function changeKey(s: UsageSnapshot): string {
  return JSON.stringify({
    sessions: s.sessions.map((x) => [x.user, x.tty, x.from ?? "", x.since, idleBucket(x.idleSeconds)]),
    users: s.users.map((u) => [u.user, Math.round((u.cpuPercent ?? 0) / 10), Math.round(u.rssBytes / (64 * 1024 * 1024))]),
    usb: s.usb,
    power: s.power,
    sources: s.sources,
    extra: s.extra,
  });
}

function idleBucket(idle: number | undefined): string {
  if (idle === undefined) return "?";
  return idle < 60 ? "active" : idle < 600 ? "idle" : idle < 3600 ? "away" : "gone";
}
