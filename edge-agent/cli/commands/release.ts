import { parse } from "./book-args.ts";
import { parseOptions, SPECS } from "../spec.ts";
import { resolveReservation } from "./resolve-reservation.ts";
import { client, print } from "./session.ts";

/** labhog release <id|resource> — ends a running reservation now, cancels a future one. */
export async function runRelease(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, parseOptions(SPECS.release.options));
  const api = await client();
  const r = await resolveReservation(api, positionals[0]);
  const done = await api.release(r.id);
  print(values.json, done, () => `released ${done.resource}  id ${done.id}`);
  return 0;
}
