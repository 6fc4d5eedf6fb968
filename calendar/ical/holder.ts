import type ICAL from "ical.js";
import type { HolderRef, User } from "../model.ts";
import { findUserByEmail } from "../lab.ts";
import { X, emailOf } from "./properties.ts";
import { componentReader, textOf, type PropReader } from "./prop-reader.ts";

/**
 * Who holds an event (design: "Calendar mapping"): labhog's own
 * X-LABHOG-HOLDER, else ORGANIZER, else the first ATTENDEE that is a known
 * user, else the calendar's owner. Anything else is held by nobody
 * (id null, with the reason): it is shown, never enforced as somebody.
 */
export function resolveHolder(c: ICAL.Component, master: ICAL.Component | undefined, users: User[], owner: string | undefined): HolderRef {
  return holderOf(componentReader(c), master && master !== c ? componentReader(master) : undefined, users, owner);
}

/** resolveHolder on property readers; `master` is undefined when `c` is the series master itself. */
export function holderOf(c: PropReader, master: PropReader | undefined, users: User[], owner: string | undefined): HolderRef {
  const notes: string[] = [];

  const xHolder = textOf(c, X.holder) ?? textOf(master, X.holder);
  if (xHolder !== undefined) {
    if (users.some((u) => u.id === xHolder)) return { id: xHolder, raw: xHolder };
    notes.push(`X-LABHOG-HOLDER "${xHolder}" is not a known user`);
  }

  // An override made in a calendar app may carry no people; the series' apply then.
  const people = master && !c.has("organizer") && !c.has("attendee") ? master : c;
  const organizer = people.first("organizer");
  const orgEmail = emailOf(organizer);
  if (orgEmail) {
    const u = findUserByEmail(users, orgEmail);
    if (u) return { id: u.id, raw: orgEmail };
    notes.push(`organizer ${orgEmail} is not a known user`);
  } else if (organizer !== null && organizer !== undefined) {
    notes.push("organizer has no e-mail address");
  }

  let firstAttendee: string | undefined;
  for (const value of people.firsts("attendee")) {
    const email = emailOf(value);
    if (!email) continue;
    firstAttendee ??= email;
    const u = findUserByEmail(users, email);
    if (u) return { id: u.id, raw: email };
  }
  if (firstAttendee) notes.push("no attendee is a known user");

  if (owner !== undefined) {
    if (users.some((u) => u.id === owner)) return { id: owner, raw: orgEmail ?? firstAttendee ?? xHolder ?? `owner:${owner}` };
    notes.push(`calendar owner "${owner}" is not a known user`);
  }
  if (notes.length === 0) notes.push("event names no organizer or attendee and the calendar has no owner");
  return { id: null, raw: xHolder ?? orgEmail ?? firstAttendee ?? "", problem: notes.join("; ") };
}
