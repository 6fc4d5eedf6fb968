import type { Reservation } from "../../calendar/model.ts";

/**
 * Use of a host nobody booked is written as a transparent event whose UID
 * starts with this prefix: it informs (status page, feeds, calendar apps)
 * but is no reservation — it neither blocks bookings nor enters schedules.
 */
export const UNBOOKED_PREFIX = "labhog-unbooked-";

export const isUnbookedUse = (r: Pick<Reservation, "uid">): boolean => r.uid.startsWith(UNBOOKED_PREFIX);
