import type { LabConfig } from "../../calendar/config/lab-config.ts";
import { isResource } from "../../calendar/lab.ts";
import { ConflictError, LabhogError, NotFoundError, ValidationError } from "../../calendar/errors.ts";
import type { Reservation } from "../../calendar/model.ts";
import type { Principal } from "../auth/principal.ts";
import { assertMayChange } from "../auth/rights.ts";
import type { Env } from "../env.ts";
import { createReservations } from "../api/booking.ts";
import { CreateReservationSchema, durationInput, durationMs } from "../api/schemas.ts";
import { forApi, ledgerOf, splitApiId, unwrap } from "../ledger/client.ts";
import { fmtWhen, fromLocalInput } from "./time.ts";

/**
 * The status page's buttons, on the same functions and schemas as the API
 * (createReservations, the ledger's change/release, assertMayChange), so the
 * rules and the error messages are the API's own.
 */
const NOW_SLACK_MS = 5 * 60_000;

function issues(e: { issues: Array<{ path: PropertyKey[]; message: string }> }): string {
  return e.issues.map((i) => `${i.path.map(String).join(".") || "form"}: ${i.message}`).join("; ");
}

/** A 409's "next free" slot, in words, appended to the message. */
function withNextFree(e: unknown, tz: string): unknown {
  if (!(e instanceof LabhogError) || e.status !== 409) return e;
  const nf = (e.detail as { nextFree?: { start: string } | null } | undefined)?.nextFree;
  if (!nf) return e;
  return new LabhogError(e.code, e.status, `${e.message}. Next free: ${fmtWhen(tz, Date.parse(nf.start), Date.now())}`, e.detail);
}

export async function bookFromForm(env: Env, lab: LabConfig, p: Principal, form: Record<string, string>): Promise<Reservation> {
  const startMs = form.start ? fromLocalInput(lab.timezone, form.start) : undefined;
  if (form.start && startMs === undefined) throw new ValidationError("start: give a date and time", { path: "start" });
  const startsNow = startMs === undefined || Math.abs(startMs - Date.now()) < NOW_SLACK_MS;
  const parsed = CreateReservationSchema.safeParse({
    resource: form.resource,
    ...(startsNow ? {} : { start: new Date(startMs!).toISOString() }),
    duration: form.duration || "1h",
    exclusive: form.shared !== "1",
    purpose: form.purpose ?? "",
  });
  if (!parsed.success) throw new ValidationError(`invalid form: ${issues(parsed.error)}`);
  try {
    const created = await createReservations(env, lab, p, parsed.data);
    return created.reservations[0]!;
  } catch (e) {
    throw withNextFree(e, lab.timezone);
  }
}

async function owned(env: Env, lab: LabConfig, p: Principal, idParam: string) {
  const ref = splitApiId(idParam ?? "");
  if (!ref || !isResource(lab, ref.resource)) throw new NotFoundError(`no reservation ${idParam}`);
  const ledger = ledgerOf(env, ref.resource);
  const r = await unwrap<Reservation>(ledger.get(ref.resource, ref.id));
  assertMayChange(p, lab, ref.resource, r.holder.id);
  return { ref, r, ledger };
}

export async function extendFromForm(env: Env, lab: LabConfig, p: Principal, form: Record<string, string>): Promise<Reservation> {
  const by = durationInput.safeParse(form.by ?? "");
  if (!by.success) throw new ValidationError(`invalid form: ${issues(by.error)}`);
  const { ref, r, ledger } = await owned(env, lab, p, form.id ?? "");
  const end = new Date(Date.parse(r.end) + durationMs(by.data)).toISOString();
  try {
    return forApi(await unwrap<Reservation>(ledger.change(ref.resource, ref.id, { end })));
  } catch (e) {
    throw withNextFree(e, lab.timezone);
  }
}

export async function releaseFromForm(env: Env, lab: LabConfig, p: Principal, form: Record<string, string>): Promise<Reservation> {
  const { ref, r, ledger } = await owned(env, lab, p, form.id ?? "");
  if (r.state === "ended") throw new ConflictError("the reservation is over already", { id: form.id });
  return forApi(await unwrap<Reservation>(ledger.release(ref.resource, ref.id)));
}
