import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { ForbiddenError } from "../../calendar/errors.ts";
import { groupConfigOf, resourceConfigOf, userConfigOf } from "../../calendar/lab.ts";
import type { Principal } from "./principal.ts";

/**
 * Per-resource rights from groups: an entry is a resource id, `pool:<id>`,
 * or `*`. Admin implies book. With auth off everyone is admin.
 */
function matches(entries: string[], lab: LabConfig, resource: string): boolean {
  const pool = resourceConfigOf(lab, resource)?.pool;
  return entries.some((e) => e === "*" || e === resource || (pool !== undefined && e === `pool:${pool}`));
}

export function isAdmin(p: Principal, lab: LabConfig, resource: string): boolean {
  if (p.kind !== "user") return false;
  if (p.via === "auth-off") return true;
  const user = userConfigOf(lab, p.id);
  return !!user && user.groups.some((g) => matches(groupConfigOf(lab, g)?.admin ?? [], lab, resource));
}

export function canBook(p: Principal, lab: LabConfig, resource: string): boolean {
  if (p.kind !== "user") return false;
  if (isAdmin(p, lab, resource)) return true;
  const user = userConfigOf(lab, p.id);
  return !!user && user.groups.some((g) => matches(groupConfigOf(lab, g)?.book ?? [], lab, resource));
}

/** Booking for `holder` on `resource`: yourself with book rights, anyone else with admin rights. */
export function assertMayBookFor(p: Principal, lab: LabConfig, resource: string, holder: string): void {
  if (p.kind !== "user") throw new ForbiddenError(`${p.kind} ${p.id} may not book`);
  if (holder !== p.id) {
    if (!isAdmin(p, lab, resource)) throw new ForbiddenError(`only an admin of ${resource} may book for ${holder}`, { resource });
    return;
  }
  if (!canBook(p, lab, resource)) throw new ForbiddenError(`${p.id} may not book ${resource}`, { resource });
}

/** Changing a reservation: its holder, or an admin of the resource. */
export function assertMayChange(p: Principal, lab: LabConfig, resource: string, holder: string | null): void {
  if (p.kind === "user" && holder !== null && holder === p.id && canBook(p, lab, resource)) return;
  if (isAdmin(p, lab, resource)) return;
  throw new ForbiddenError(`only the holder or an admin of ${resource} may change this reservation`, { resource });
}
