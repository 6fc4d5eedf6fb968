import type { LabConfig } from "./config/lab-config.ts";
import type { Resource, User } from "./model.ts";
import { hasOwnKey, own } from "./config/own.ts";

type Of<K extends keyof LabConfig> = LabConfig[K] extends Record<string, infer T> | undefined ? T : never;

/*
 * Lookups by id. Ids come from requests, events and messages; these answer
 * only for what the lab file defines (never Object.prototype's `constructor`).
 */
export const isResource = (lab: LabConfig, id: string): boolean => hasOwnKey(lab.resources, id);
export const resourceConfigOf = (lab: LabConfig, id: string): Of<"resources"> | undefined => own(lab.resources, id);
export const isPool = (lab: LabConfig, id: string): boolean => hasOwnKey(lab.pools, id);
export const poolConfigOf = (lab: LabConfig, id: string): Of<"pools"> | undefined => own(lab.pools, id);
export const isUser = (lab: LabConfig, id: string): boolean => hasOwnKey(lab.users, id);
export const userConfigOf = (lab: LabConfig, id: string): Of<"users"> | undefined => own(lab.users, id);
export const groupConfigOf = (lab: LabConfig, id: string): Of<"groups"> | undefined => own(lab.groups, id);
export const isAgent = (lab: LabConfig, id: string): boolean => hasOwnKey(lab.agents, id);
export const calendarConfigOf = (lab: LabConfig, key: string): Of<"calendars"> | undefined => own(lab.calendars, key);

/** The calendar key of a resource: its `calendar`, else the calendar named like it, else `default`. */
export function calendarKeyOf(lab: LabConfig, resource: string): string {
  return resourceConfigOf(lab, resource)?.calendar ?? (hasOwnKey(lab.calendars, resource) ? resource : "default");
}

/** The lab file's resources as model objects (calendar defaults resolved as the config validator does). */
export function resourcesOf(cfg: LabConfig): Resource[] {
  return Object.entries(cfg.resources).map(([id, r]) => {
    const res: Resource = {
      id,
      name: r.name ?? id,
      kind: r.kind,
      tags: { ...r.tags },
      calendar: calendarKeyOf(cfg, id),
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
