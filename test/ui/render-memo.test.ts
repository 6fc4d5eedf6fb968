import { describe, expect, it } from "vitest";
import type { StatusModel } from "../../worker/ui/model.ts";
import { inputDigest, RenderMemo } from "../../worker/ui/render-memo.ts";

/** What decides that a poll need not draw the board again (worker/ui/render-memo.ts). */
const lab = { site: "t", timezone: "UTC", resources: {}, pools: {} } as unknown as StatusModel["lab"];
const reservation = (purpose: string) => ({ id: "r1:e1", uid: "e1", resource: "r1", start: "2026-11-30T10:00:00Z", end: "2026-11-30T11:00:00Z", purpose, state: "active" });
const model = (o: { purpose?: string; now?: number; csrf?: string; who?: string; lab?: StatusModel["lab"] } = {}): StatusModel =>
  ({
    lab: o.lab ?? lab,
    tz: "UTC",
    now: o.now ?? 1_800_000_000_000,
    from: 0,
    to: 1,
    csrf: o.csrf ?? "c".repeat(32),
    principal: { kind: "user", id: o.who ?? "alice" },
    groups: [{ id: "boards", name: "Boards", rows: [{ view: { id: "r1", current: [] }, reservations: [reservation(o.purpose ?? "a")], usage: null, mayBook: true }] }],
    mayChange: () => true,
  }) as unknown as StatusModel;

describe("inputDigest", () => {
  it("is the same for the same inputs, and moves with a reservation, the minute, the viewer, the CSRF token and the lab file", async () => {
    const base = await inputDigest(model());
    expect(base).toMatch(/^[0-9a-f]{40}$/);
    expect(await inputDigest(model())).toBe(base);
    for (const other of [model({ purpose: "b" }), model({ now: 1_800_000_060_000 }), model({ who: "bob" }), model({ csrf: "d".repeat(32) }), model({ lab: { ...lab } as StatusModel["lab"] })]) {
      expect(await inputDigest(other)).not.toBe(base);
    }
  });
});

describe("RenderMemo", () => {
  it("keeps the last `keep` inputs, the most recently used last to go", () => {
    const memo = new RenderMemo(2);
    memo.set("a", "va");
    memo.set("b", "vb");
    expect(memo.get("a")).toBe("va"); // a used: b is now the oldest
    memo.set("c", "vc");
    expect(memo.get("b")).toBeUndefined();
    expect(memo.get("a")).toBe("va");
    expect(memo.get("c")).toBe("vc");
  });
});
