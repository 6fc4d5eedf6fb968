import { describe, expect, it } from "vitest";
import { fanOut } from "../../worker/api/fan-out.ts";

/** The bounded fan-out behind resource lists (worker/api/fan-out.ts). */
describe("fanOut", () => {
  it("keeps at most `limit` calls in flight, answers in item order, and captures failures per item", async () => {
    let inFlight = 0;
    let most = 0;
    const out = await fanOut(Array.from({ length: 40 }, (_, i) => i), async (i) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, i % 3));
      inFlight--;
      if (i === 7) throw new Error("seven");
      return i * 2;
    }, { limit: 5 });
    expect(most).toBe(5);
    expect(out.map((o) => (o?.ok ? o.value : o ? `err:${(o.error as Error).message}` : "missing"))).toEqual(Array.from({ length: 40 }, (_, i) => (i === 7 ? "err:seven" : i * 2)));
  });

  it("with a budget, answers with what is in and undefined for the rest, which go on under waitUntil", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const kept: Promise<unknown>[] = [];
    const done: number[] = [];
    const out = await fanOut([0, 1, 2, 3], async (i) => {
      if (i % 2) await gate; // never before the budget: released only below
      done.push(i);
      return i;
    }, { limit: 4, budgetMs: 50, waitUntil: (p) => kept.push(p) });
    expect(out.map((o) => (o?.ok ? o.value : undefined))).toEqual([0, undefined, 2, undefined]);
    expect(kept).toHaveLength(1);
    release();
    await kept[0];
    expect(done.sort()).toEqual([0, 1, 2, 3]);
    // What the caller holds does not change after the answer.
    expect(out[1]).toBeUndefined();
  });
});
