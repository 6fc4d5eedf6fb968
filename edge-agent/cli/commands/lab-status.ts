import { parse } from "./book-args.ts";
import { resourceHead, resourceRows, table } from "./output.ts";
import { client, print } from "./session.ts";

/** labhog status --lab [--pool P] [--tag k=v]: a table of the lab, like the status page. */
export async function runLabStatus(argv: string[]): Promise<number> {
  const { values } = parse(argv, { lab: { type: "boolean" }, pool: { type: "string" }, tag: { type: "string", multiple: true }, json: { type: "boolean" } });
  const api = await client();
  const { resources } = await api.resources({ ...(values.pool ? { pool: values.pool } : {}), ...(values.tag ? { tag: values.tag } : {}) });
  print(values.json, { resources }, () => table(resourceHead, resourceRows(resources)));
  return 0;
}
