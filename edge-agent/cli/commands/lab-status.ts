import { parse } from "./book-args.ts";
import { parseOptions, SPECS } from "../spec.ts";
import { resourceHead, resourceRows, table } from "./output.ts";
import { client, print } from "./session.ts";

/** labhog status --lab [--pool P] [--tag k=v]: a table of the lab, like the status page. */
export async function runLabStatus(argv: string[]): Promise<number> {
  const { values } = parse(argv, parseOptions(SPECS.status.options));
  const api = await client();
  const { resources } = await api.resources({ ...(values.pool ? { pool: values.pool } : {}), ...(values.tag ? { tag: values.tag } : {}) });
  print(values.json, { resources }, () => table(resourceHead, resourceRows(resources)));
  return 0;
}
