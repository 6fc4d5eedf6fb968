import type { ApiReservation, ApiResource } from "../../client/api-client.ts";

/** Plain-text tables for humans; `--json` prints the API's JSON instead. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}

export function when(iso: string, now = new Date()): string {
  const d = new Date(iso);
  const sameDay = d.toDateString() === now.toDateString();
  const hm = d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
  return sameDay ? hm : `${d.toLocaleDateString("en-CA")} ${hm}`;
}

export function holderName(r: ApiReservation): string {
  return r.holder.id ?? `?${r.holder.raw || "unknown"}`;
}

export function reservationRows(list: ApiReservation[]): string[][] {
  return list.map((r) => [r.id, r.resource, holderName(r), when(r.start), when(r.end), r.exclusive ? "exclusive" : "shared", r.state, r.purpose]);
}
export const reservationHead = ["id", "resource", "holder", "start", "end", "kind", "state", "purpose"];

/**
 * Why nothing the Worker sent about this resource can be taken as its state,
 * or null when it can: a list may answer before a waking ledger has read its
 * calendar, and an empty `current` then means "not known", never "free".
 */
export function unknownState(r: ApiResource): string | null {
  if (r.syncing) return "unknown: reading its calendar";
  if (r.unreadable) return "unknown: calendar unreachable";
  return null;
}

/** A note for a view answered from the Worker's cache while the calendar can't be reached. */
function staleNote(r: ApiResource): string {
  if (!r.stale || r.syncing || r.unreadable) return "";
  return r.unreachableSince ? `cached: calendar unreachable since ${when(r.unreachableSince)}` : "cached: calendar unreachable";
}

export function resourceRows(list: ApiResource[]): string[][] {
  return list.map((r) => {
    const cur = r.current.find((c) => c.state === "active");
    const agent = r.agent ? (r.agent.status === "online" ? "online" : `${r.agent.status}`) : "-";
    return [
      r.id,
      r.pool ?? "",
      unknownState(r) ?? (cur ? `${holderName(cur)} until ${when(cur.end)}` : "free"),
      r.next ? `${holderName(r.next)} ${when(r.next.start)}` : "",
      agent,
      [staleNote(r), r.conflicts ? `${r.conflicts} conflict(s)` : "", r.enforcement?.ok === false ? `not enforced: ${r.enforcement.problems.join("; ")}` : ""].filter(Boolean).join("; "),
    ];
  });
}
export const resourceHead = ["resource", "pool", "now", "next", "agent", "notes"];
