import type { ApiClient, ApiReservation } from "../../client/api-client.ts";
import { UsageError } from "../main.ts";

/**
 * A reservation named on the command line: a reservation id
 * (`<resource>:<event>`), or a resource, meaning my current (else next) one there.
 */
export async function resolveReservation(api: ApiClient, ref: string | undefined): Promise<ApiReservation> {
  if (!ref) throw new UsageError("name a reservation id or a resource");
  if (ref.includes(":")) return api.reservation(ref);
  const me = await api.me();
  const { reservations } = await api.reservations({ resource: ref, holder: me.id });
  const mine = reservations.filter((r) => r.state === "active").concat(reservations.filter((r) => r.state === "upcoming"));
  const found = mine[0];
  if (!found) throw new UsageError(`you hold no current or upcoming reservation on ${ref}`);
  return found;
}
