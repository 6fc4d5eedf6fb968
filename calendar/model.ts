/**
 * The reservation model shared by the Worker and the edge agent.
 * Times cross module boundaries as ISO-8601 UTC strings so that every value
 * is JSON-safe (API, Durable Object storage, MQTT) without conversion.
 */

export type ResourceKind = "host" | "board" | "usb" | (string & {});

export interface Resource {
  id: string;
  name: string;
  kind: ResourceKind;
  /** At most one pool. */
  pool?: string;
  /** `arch=arm64` style tags, kept as a map. */
  tags: Record<string, string>;
  /** The agent (host id) that serves this resource. */
  agent?: string;
  /** Which calendar holds this resource's reservations (a key of LabConfig.calendars). */
  calendar: string;
  /** Calendar-level owner used when an app-made event names no known holder. */
  owner?: string;
  description?: string;
}

export interface Pool {
  id: string;
  name: string;
  description?: string;
}

export interface User {
  id: string;
  name?: string;
  email: string;
  /** Unix logins on lab hosts; the first is the default. */
  unix: string[];
  /** OpenSSH public keys (one key per entry). */
  sshKeys: string[];
  groups: string[];
}

export interface Group {
  id: string;
  /** Resource ids, pool ids prefixed `pool:`, or `*`. */
  book: string[];
  admin: string[];
}

export type ReservationState = "upcoming" | "active" | "ended" | "conflict";
export type ReservationSource = "api" | "calendar";

/** Who holds a reservation, as resolved from the event. */
export interface HolderRef {
  /** labhog user id, or null when the event names nobody we know. */
  id: string | null;
  /** What the event said (email or free text), kept for display and diagnosis. */
  raw: string;
  /** Why the holder could not be resolved, when id is null. */
  problem?: string;
}

export interface Reservation {
  /** Stable id: the UID, plus `/` and the occurrence start for recurring events. */
  id: string;
  uid: string;
  /** ISO UTC of the occurrence's original start, for occurrences of recurring events. */
  recurrenceId?: string;
  resource: string;
  holder: HolderRef;
  start: string;
  end: string;
  exclusive: boolean;
  purpose: string;
  image?: string;
  mode?: string;
  source: ReservationSource;
  state: ReservationState;
  /** When labhog marked it as losing a conflict: the id of the winner. */
  conflictWith?: string[];
  created?: string;
  dtstamp?: string;
  /** CI leases: keep-alive TTL in seconds. */
  leaseTtl?: number;
  usage?: unknown;
  allDay?: boolean;
}

export interface TimeWindow {
  start: Date;
  end: Date;
}

export function overlaps(a: { start: string; end: string }, b: { start: string; end: string }): boolean {
  return Date.parse(a.start) < Date.parse(b.end) && Date.parse(b.start) < Date.parse(a.end);
}

export function stateAt(r: Pick<Reservation, "start" | "end" | "state">, now: Date): ReservationState {
  if (r.state === "conflict") return "conflict";
  const t = now.getTime();
  if (t < Date.parse(r.start)) return "upcoming";
  if (t < Date.parse(r.end)) return "active";
  return "ended";
}
