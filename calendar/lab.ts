import type { LabConfig } from "./config/lab-config.ts";
import type { Resource, User } from "./model.ts";

/** The lab file's resources as model objects (calendar defaults resolved as the config validator does). */
export function resourcesOf(cfg: LabConfig): Resource[] {
  return Object.entries(cfg.resources).map(([id, r]) => {
    const res: Resource = {
      id,
      name: r.name ?? id,
      kind: r.kind,
      tags: { ...r.tags },
      calendar: r.calendar ?? (id in cfg.calendars ? id : "default"),
    };
    if (r.pool !== undefined) res.pool = r.pool;
    if (r.agent !== undefined) res.agent = r.agent;
    if (r.owner !== undefined) res.owner = r.owner;
    if (r.description !== undefined) res.description = r.description;
    return res;
  });
}

export function usersOf(cfg: LabConfig): User[] {
  return Object.entries(cfg.users).map(([id, u]) => {
    const user: User = {
      id,
      email: u.email,
      unix: typeof u.unix === "string" ? [u.unix] : [...u.unix],
      sshKeys: [...u.sshKeys],
      groups: [...u.groups],
    };
    if (u.name !== undefined) user.name = u.name;
    return user;
  });
}

/** Case-insensitive; accepts a bare address or a "mailto:" URI as found in ORGANIZER/ATTENDEE. */
export function findUserByEmail(users: User[], email: string): User | undefined {
  const want = normalizeEmail(email);
  if (!want) return undefined;
  return users.find((u) => normalizeEmail(u.email) === want);
}

function normalizeEmail(e: string): string {
  return e.trim().replace(/^mailto:/i, "").trim().toLowerCase();
}
