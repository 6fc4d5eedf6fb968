import type { LabConfig } from "../../calendar/config/lab-config.ts";
import type { StatusModel } from "./model.ts";

/**
 * Rendering the board is most of a poll's CPU (about a millisecond per
 * resource), and most polls find nothing new. So the board version is also
 * remembered by what the board was drawn from: a poll whose inputs digest the
 * same as an earlier one (every row's view and week, the viewer, the CSRF
 * token in the forms, the minute, the lab file) has that version, and when
 * the viewer already shows it the answer is a 304 without drawing anything.
 * A poll with a change, or from a viewer at another version, is drawn as
 * before. SHA-1 over the inputs: a collision would serve a wrong 304, so no
 * short hash here.
 */
const labIds = new WeakMap<LabConfig, number>();
let nextLabId = 1;

export async function inputDigest(m: StatusModel): Promise<string> {
  let lab = labIds.get(m.lab);
  if (lab === undefined) labIds.set(m.lab, (lab = nextLabId++));
  const text = JSON.stringify([lab, m.now, m.tz, m.from, m.to, m.csrf, m.principal, m.locked ?? false, m.authProblem ?? null, m.groups.map((g) => [g.id, g.rows.map((r) => [r.view, r.reservations, r.usage, r.mayBook])])]);
  const d = new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text)));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Input digest → board version, the last `keep` of them (least recently used go first). */
export class RenderMemo {
  #versions = new Map<string, string>();
  constructor(private readonly keep = 256) {}

  get(input: string): string | undefined {
    const v = this.#versions.get(input);
    if (v !== undefined) {
      this.#versions.delete(input);
      this.#versions.set(input, v);
    }
    return v;
  }

  set(input: string, version: string): void {
    this.#versions.delete(input);
    this.#versions.set(input, version);
    while (this.#versions.size > this.keep) this.#versions.delete(this.#versions.keys().next().value!);
  }
}
