/**
 * Several resources in ONE calendar: a view of a shared calendar holding only
 * the events of one resource, so each resource's ledger sees its own
 * calendar as before.
 *
 * Why: Nextcloud lets a user create 10 calendars an hour and 30 in all
 * (apps/dav RateLimitingPlugin), so a lab of 40 resources can't have one
 * calendar each on Nextcloud without raising those limits.
 *
 * Which resource an event is for: its `X-LABHOG-RESOURCE`, else its LOCATION
 * naming the resource (id or display name, case and surrounding space
 * ignored). Occurrence overrides follow their series. An event that names no
 * resource of this view is not shown in it. What labhog writes is tagged with
 * X-LABHOG-RESOURCE (and LOCATION when it has none), so people see the
 * resource in their calendar app and can move a booking by changing it.
 *
 * Stateless: an incremental sync's changed object that is not (or no longer)
 * this resource's is reported as deleted, which a ledger that never held it
 * ignores.
 */
import ICAL from "ical.js";
import type { CalendarBackend, CalendarObject, CallOptions, SyncOptions, SyncResult, VerifyResult } from "./backend.ts";
import type { TimeWindow } from "../model.ts";
import { NotFoundError, ValidationError } from "../errors.ts";

export const RESOURCE_PROPERTY = "X-LABHOG-RESOURCE";

export interface OneCalendarResource {
  id: string;
  /** Display name, also accepted in LOCATION. */
  name?: string;
}

function parse(ics: string): ICAL.Component | undefined {
  try {
    return new ICAL.Component(ICAL.parse(ics) as unknown[]);
  } catch {
    return undefined;
  }
}

const norm = (s: string) => s.trim().toLowerCase();

/** The resource an object's events name (the series' VEVENT decides), or undefined. */
export function resourceNamed(ics: string): { by: "property" | "location"; value: string } | undefined {
  const root = parse(ics);
  if (!root) return undefined;
  const vevents = root.name === "vevent" ? [root] : root.getAllSubcomponents("vevent");
  const master = vevents.find((v) => !v.hasProperty("recurrence-id")) ?? vevents[0];
  if (!master) return undefined;
  const prop = master.getFirstProperty(RESOURCE_PROPERTY.toLowerCase());
  const x = prop ? String(prop.getFirstValue() ?? "").trim() : "";
  if (x) return { by: "property", value: x };
  const loc = master.getFirstPropertyValue("location");
  return typeof loc === "string" && loc.trim() ? { by: "location", value: loc } : undefined;
}

export class OneCalendarView implements CalendarBackend {
  readonly kind: CalendarBackend["kind"];

  constructor(
    private readonly inner: CalendarBackend,
    private readonly resource: OneCalendarResource,
  ) {
    this.kind = inner.kind;
  }

  /** Whether the object is this resource's. */
  isMine(ics: string): boolean {
    const named = resourceNamed(ics);
    if (!named) return false;
    if (named.by === "property") return named.value === this.resource.id;
    const v = norm(named.value);
    return v === norm(this.resource.id) || (this.resource.name !== undefined && v === norm(this.resource.name));
  }

  /** Tags every VEVENT with this resource (X-LABHOG-RESOURCE; LOCATION when it has none); refuses an object naming another. */
  tag(ics: string): string {
    const root = parse(ics);
    if (!root) return ics; // the inner backend reports the parse error
    const named = resourceNamed(ics);
    if (named?.by === "property" && named.value !== this.resource.id) {
      throw new ValidationError(`this event belongs to resource ${named.value}, not ${this.resource.id}`, { resource: named.value });
    }
    const vevents = root.name === "vevent" ? [root] : root.getAllSubcomponents("vevent");
    for (const ve of vevents) {
      ve.removeAllProperties(RESOURCE_PROPERTY.toLowerCase());
      const p = new ICAL.Property(RESOURCE_PROPERTY.toLowerCase(), ve);
      p.setValue(this.resource.id);
      ve.addProperty(p);
      if (!ve.hasProperty("location")) ve.addPropertyWithValue("location", this.resource.name ?? this.resource.id);
    }
    return root.toString() + "\r\n";
  }

  private split(changed: CalendarObject[]): { mine: CalendarObject[]; others: string[] } {
    const mine: CalendarObject[] = [];
    const others: string[] = [];
    for (const o of changed) {
      if (this.isMine(o.ics)) mine.push(o);
      else others.push(o.id);
    }
    return { mine, others };
  }

  async list(window: TimeWindow, options?: CallOptions): Promise<CalendarObject[]> {
    return (await this.inner.list(window, options)).filter((o) => this.isMine(o.ics));
  }

  async sync(token: string | null, options?: SyncOptions): Promise<SyncResult> {
    const r = await this.inner.sync(token, options);
    if (r.full) return { ...r, changed: r.changed.filter((o) => this.isMine(o.ics)) };
    const { mine, others } = this.split(r.changed);
    return { ...r, changed: mine, deleted: [...r.deleted, ...others] };
  }

  async verify(known: ReadonlyMap<string, string>, options?: SyncOptions): Promise<VerifyResult> {
    const r = await this.inner.verify(known, options);
    const { mine, others } = this.split(r.changed);
    return { ...r, changed: mine, deleted: [...r.deleted, ...others.filter((id) => known.has(id))] };
  }

  async get(id: string, options?: CallOptions): Promise<CalendarObject> {
    const o = await this.inner.get(id, options);
    if (!this.isMine(o.ics)) throw new NotFoundError(`${id} is not an event of resource ${this.resource.id}`);
    return o;
  }

  async create(uid: string, ics: string, options?: CallOptions): Promise<CalendarObject> {
    return this.inner.create(uid, this.tag(ics), options);
  }

  async update(id: string, ics: string, etag: string, options?: CallOptions): Promise<CalendarObject> {
    return this.inner.update(id, this.tag(ics), etag, options);
  }

  async delete(id: string, etag?: string, options?: CallOptions): Promise<void> {
    return this.inner.delete(id, etag, options);
  }
}
