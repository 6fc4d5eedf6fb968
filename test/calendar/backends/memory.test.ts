import { describe, expect, it } from "vitest";
import { MemoryBackend } from "../../../calendar/backends/memory.ts";
import { MapStore } from "../../../calendar/backends/kv-store.ts";
import { ValidationError } from "../../../calendar/errors.ts";
import { backendContract } from "../contract/backend-contract.ts";
import { icsEvent, testUid, day } from "../contract/ics-builder.ts";

backendContract("memory", async () => ({ backend: new MemoryBackend(), cleanup: async () => {} }));

const t0 = Date.UTC(2030, 0, 1, 9);
const ev = (label: string, d = 0) => {
  const uid = testUid(label);
  return { uid, ics: icsEvent({ uid, start: new Date(t0 + d * day), end: new Date(t0 + d * day + 3_600_000) }) };
};

describe("memory backend specifics", () => {
  it("a token older than the bounded change log gets a full resync; a newer one stays incremental", async () => {
    const b = new MemoryBackend({ maxChangeLog: 5 });
    const first = ev("a");
    await b.create(first.uid, first.ics);
    const old = (await b.sync(null)).token;
    const made = [];
    for (let i = 0; i < 5; i++) { const e = ev(`b${i}`); made.push(await b.create(e.uid, e.ics)); }
    // Five changes after `old` still fit in a log of five.
    const r = await b.sync(old);
    expect(r.full).toBe(false);
    expect(r.changed).toHaveLength(5);
    const e = ev("c");
    await b.create(e.uid, e.ics);
    const stale = await b.sync(old);
    expect(stale.full).toBe(true);
    expect(stale.changed).toHaveLength(7);
    expect((await b.sync(r.token)).changed.map((o) => o.id)).toEqual([e.uid]);
  });

  it("keeps its state in the given store: a second backend on the same store continues the tokens", async () => {
    const store = new MapStore();
    const a = new MemoryBackend({ store, prefix: "cal1/" });
    const e1 = ev("p");
    await a.create(e1.uid, e1.ics);
    const tok = (await a.sync(null)).token;
    const b = new MemoryBackend({ store, prefix: "cal1/" });
    const e2 = ev("q");
    await b.create(e2.uid, e2.ics);
    const r = await b.sync(tok);
    expect(r).toMatchObject({ full: false, deleted: [] });
    expect(r.changed.map((o) => o.id)).toEqual([e2.uid]);
    // Another calendar in the same store has its own epoch: the token means nothing there.
    const other = new MemoryBackend({ store, prefix: "cal2/" });
    expect((await other.sync(tok)).full).toBe(true);
  });

  it("concurrent creates of one UID: exactly one wins", async () => {
    const b = new MemoryBackend();
    const e = ev("race");
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => b.create(e.uid, e.ics)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("rejects text that is not iCalendar with a ValidationError", async () => {
    const b = new MemoryBackend();
    await expect(b.create("x", "not a calendar")).rejects.toBeInstanceOf(ValidationError);
  });

  it("lists a never-matching or endless series without hanging", async () => {
    const b = new MemoryBackend();
    const uid = testUid("never");
    const ics = icsEvent({ uid, start: new Date(t0), end: new Date(t0 + 3_600_000), rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30" });
    await b.create(uid, ics);
    const endless = ev("endless");
    await b.create(endless.uid, endless.ics.replace("END:VEVENT", "RRULE:FREQ=SECONDLY\r\nEND:VEVENT"));
    const started = Date.now();
    await b.list({ start: new Date(t0 + 400 * day), end: new Date(t0 + 401 * day) });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
