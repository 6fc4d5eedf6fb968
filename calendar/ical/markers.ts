import { ValidationError } from "../errors.ts";
import { parseCalendar } from "./parse.ts";
import { X, text } from "./properties.ts";
import { labZone } from "./read.ts";
import { instantMs, localize, rawTime } from "./times.ts";

/**
 * The conflict mark labhog last wrote on an event (or on one occurrence's
 * override). Only for deciding whether the mark needs writing or clearing:
 * who loses is always recomputed from the events (calendar/conflicts.ts).
 */
export function conflictMarkerOf(ics: string, recurrenceId?: string, timezone = "UTC"): { conflict: boolean; conflictWith: string[] } {
  const root = parseCalendar(ics);
  const events = root.getAllSubcomponents("vevent");
  let c = events.find((e) => !e.hasProperty("recurrence-id"));
  if (recurrenceId !== undefined) {
    const ridMs = Date.parse(recurrenceId);
    if (!Number.isFinite(ridMs)) throw new ValidationError(`recurrenceId "${recurrenceId}" is not an ISO date-time`);
    const lab = labZone({ timezone });
    c = events.find((e) => {
      const rid = rawTime(e, "recurrence-id");
      return rid !== undefined && instantMs(localize(rid, lab)) === ridMs;
    });
  }
  if (!c) return { conflict: false, conflictWith: [] };
  return {
    conflict: text(c, X.state)?.toLowerCase() === "conflict",
    conflictWith: c.getAllProperties(X.conflictWith).map((p) => String(p.getFirstValue())),
  };
}
