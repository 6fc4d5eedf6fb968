/**
 * The webhook `eventFilter` docs/status-feeds-push.md tells admins to
 * register, run against payloads shaped like Nextcloud's. The matcher is a
 * STAND-IN for the part of Nextcloud's PHPMongoQuery
 * (apps/webhook_listeners/lib/Service/PHPMongoQuery.php) the filter uses:
 * `$or` over queries; a dotted key walks into the document, and when it meets
 * a list it tries every element; a plain value means equality (or
 * membership, when the document holds a list). WebhooksEventListener only
 * queues a call when the filter matches.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

type Doc = unknown;

function walk(doc: Doc, path: string[], want: unknown): boolean {
  if (path.length === 0) return Array.isArray(doc) ? doc.includes(want) : doc === want;
  if (Array.isArray(doc)) return doc.some((item) => walk(item, path, want));
  if (!doc || typeof doc !== "object" || !Object.hasOwn(doc, path[0]!)) return false;
  return walk((doc as Record<string, unknown>)[path[0]!], path.slice(1), want);
}

function matches(query: Record<string, unknown>, doc: Doc): boolean {
  return Object.entries(query).every(([k, v]) => {
    if (k === "$or") return (v as Record<string, unknown>[]).some((q) => matches(q, doc));
    if (k === "$and") return (v as Record<string, unknown>[]).every((q) => matches(q, doc));
    if (k.startsWith("$")) throw new Error(`stand-in: operator ${k} not modelled`);
    return walk(doc, k.split("."), v);
  });
}

const docs = readFileSync(fileURLToPath(new URL("../../docs/status-feeds-push.md", import.meta.url)), "utf8");
const filterText = /^filter='(.*)'$/m.exec(docs)![1]!;
const UID = "5f1c-ldap-uid";
const filter = JSON.parse(filterText.replaceAll("<uid>", UID)) as Record<string, unknown>;

const row = (owner: string, uri: string) => ({ id: 4, uri, principaluri: `principals/users/${owner}`, "{DAV:}displayname": uri });
const share = (p: string) => ({ href: `principal:principals/users/${p}`, commonName: "", status: 1, readOnly: false, "{http://owncloud.org/ns}principal": `principals/users/${p}`, "{http://owncloud.org/ns}group-share": false });
const call = (event: Record<string, unknown>) => ({ event: { ...event, class: "OCP\\Calendar\\Events\\CalendarObjectUpdatedEvent" }, user: { uid: "bob", displayName: "Bob" }, time: 1764500000 });

describe("the documented webhook eventFilter", () => {
  it("lets through the labhog user's calendars, calendars shared with it, and moves into or out of them", () => {
    expect(matches(filter, call({ calendarId: 4, calendarData: row(UID, "rock5b-1"), shares: [], objectData: {} }))).toBe(true);
    expect(matches(filter, call({ calendarId: 5, calendarData: row("alice", "jetson"), shares: [share("carol"), share(UID)], objectData: {} }))).toBe(true);
    expect(matches(filter, call({ sourceCalendarId: 6, sourceCalendarData: row("bob", "personal"), targetCalendarId: 4, targetCalendarData: row(UID, "rock5b-1"), sourceShares: [], targetShares: [], objectData: {} }))).toBe(true);
  });

  it("keeps every other user's calendars out (their saves never carry labhog's job)", () => {
    expect(matches(filter, call({ calendarId: 9, calendarData: row("bob", "personal"), shares: [share("carol")], objectData: {} }))).toBe(false);
    expect(matches(filter, call({ calendarId: 9, calendarData: row("bob", "personal"), shares: [], objectData: {} }))).toBe(false);
  });
});
