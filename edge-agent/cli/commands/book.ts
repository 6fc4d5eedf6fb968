import { bookOptions, bookingBody, parse } from "./book-args.ts";
import { holderName, when } from "./output.ts";
import { client, print } from "./session.ts";
import { progressFor } from "../progress.ts";

const formatWait = (s: number) => (s % 60 === 0 ? `${s / 60} min` : `${s} s`);

/** labhog book <resource…|--pool P|--tag k=v> [--for 2h|--until 18:00] [--shared] [--purpose …] [--image …] [--mode …] [--wait [secs]] */
export async function runBook(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, bookOptions);
  const body = bookingBody(positionals, values);
  const api = await client();
  if (typeof body.wait === "number" && body.wait > 0) {
    const target = String(body.resource ?? (body.resources as string[] | undefined)?.join(", ") ?? (body.pool ? `pool ${String(body.pool)}` : "the tagged resources"));
    progressFor("book", { json: values.json }).info("waiting for the slot", { wait: body.wait }, `waiting up to ${formatWait(body.wait)} for ${target}…`);
  }
  const res = await api.create(body, typeof body.wait === "number" ? body.wait : 0);
  print(values.json, res, () =>
    res.reservations
      .map((r) => `booked ${r.resource} for ${holderName(r)} ${when(r.start)}–${when(r.end)}${res.waited >= 1 ? ` (after waiting ${Math.round(res.waited)} s)` : ""}  id ${r.id}`)
      .concat(skippedLine((res as { skipped?: string[] }).skipped))
      .join("\n"),
  );
  return 0;
}

/** A recurring booking's occurrences left out because they conflicted (--skip-conflicts). */
function skippedLine(skipped: string[] | undefined): string[] {
  return skipped?.length ? [`skipped (conflicting): ${skipped.map((s) => when(s)).join(", ")}`] : [];
}
