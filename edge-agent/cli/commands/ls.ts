import { parse } from "./book-args.ts";
import { parseOptions, SPECS } from "../spec.ts";
import { reservationHead, reservationRows, table } from "./output.ts";
import { client, print } from "./session.ts";
import { parseWhen } from "./time-args.ts";

/** labhog ls [resource] [--all] [--pool P] [--until when] — mine by default. */
export async function runLs(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, parseOptions(SPECS.ls.options));
  const api = await client();
  const query: { resource?: string; holder?: string; pool?: string; to?: string } = {};
  if (positionals[0]) query.resource = positionals[0];
  if (values.pool) query.pool = values.pool;
  if (values.until) query.to = parseWhen(values.until).toISOString();
  if (!values.all && !positionals[0] && !values.pool) query.holder = (await api.me()).id;
  const { reservations } = await api.reservations(query);
  print(values.json, { reservations }, () => (reservations.length ? table(reservationHead, reservationRows(reservations)) : "no reservations"));
  return 0;
}
