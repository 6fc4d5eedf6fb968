import { parse } from "./book-args.ts";
import { parseOptions, SPECS } from "../spec.ts";
import { when } from "./output.ts";
import { resolveReservation } from "./resolve-reservation.ts";
import { client, print } from "./session.ts";
import { parseDuration, parseWhen } from "./time-args.ts";
import { UsageError } from "../main.ts";

/** labhog extend <id|resource> (--for 1h | --until 18:00) — --for adds to the current end. */
export async function runExtend(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, parseOptions(SPECS.extend.options));
  if (!values.for === !values.until) throw new UsageError("give --for (added to the end) or --until");
  const api = await client();
  const r = await resolveReservation(api, positionals[0]);
  const body = values.for ? { extendBy: parseDuration(values.for, "--for") } : { end: parseWhen(values.until!).toISOString() };
  const changed = await api.change(r.id, body);
  print(values.json, changed, () => `${changed.resource}: now until ${when(changed.end)}  id ${changed.id}`);
  return 0;
}
