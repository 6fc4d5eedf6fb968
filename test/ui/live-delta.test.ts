import { describe, expect, it } from "vitest";
import { clockFree, regionsOf, versionOf, VersionMemory } from "../../worker/ui/live-delta.ts";

/** Cutting the status board into its live regions, and what a viewer at an older version is sent. */
const board = (host1: string, host2: string, now = "12.5%", ago = "4 min ago", at = "10:04") =>
  `<div id="board"><p class="summary" id="summary" data-live>1 of 2 in use · updated <time datetime="x" data-now="${now}">${at}</time></p>` +
  `<section class="res" id="r-host1"><div class="info" id="live-host1" data-live><h3>host1</h3><div class="meta"><span>seen <time data-ago datetime="t">${ago}</time></span></div><p>${host1}</p></div>` +
  `<div class="week" id="tl-host1" data-live><div class="tl"><span class="now" style="left:${now}" aria-hidden="true"></span></div></div><form><div>book</div></form></section>` +
  `<section class="res" id="r-host2"><div class="info" id="live-host2" data-live><div><div>${host2}</div></div></div>` +
  `<div class="week" id="tl-host2" data-live><div class="tl"><span class="now" style="left:${now}"></span></div></div></section></div>`;

describe("live regions", () => {
  it("finds every top-level data-live element whole, nested elements of the same tag included", () => {
    const rs = regionsOf(board("Free", "alice until 11:00"));
    expect(rs.map((r) => r.id)).toEqual(["summary", "live-host1", "tl-host1", "live-host2", "tl-host2"]);
    expect(rs[3]!.html).toBe('<div class="info" id="live-host2" data-live><div><div>alice until 11:00</div></div></div>');
    expect(rs[2]!.html.endsWith("</span></div></div>")).toBe(true);
    expect(rs.some((r) => r.html.includes("<form>"))).toBe(false);
    expect(() => regionsOf('<div id="x" data-live><div>')).toThrow(/not closed/);
  });

  it("leaves the clock out: the now-line's place and the ago texts", () => {
    expect(clockFree('<span class="now" style="left:3%" title="now 10:00"></span>')).toBe('<span class="now"></span>');
    expect(clockFree('<time data-ago datetime="t">4 min ago</time> <time datetime="u">10:00</time>')).toBe('<time data-ago datetime="t"></time> <time datetime="u">10:00</time>');
  });
});

describe("versions and deltas", () => {
  it("the rows' hashes move with what viewers see change, not with the clock (only the small summary carries it)", async () => {
    const a = await versionOf(regionsOf(board("Free", "x")));
    expect(a.version).toMatch(/^[0-9a-f]{40}$/);
    const later = await versionOf(regionsOf(board("Free", "x", "40%", "5 min ago")));
    expect([...later.hashes].filter(([id, h]) => a.hashes.get(id) !== h).map(([id]) => id)).toEqual(["summary"]);
    expect((await versionOf(regionsOf(board("Free", "x", "12.5%", "5 min ago")))).version).toBe(a.version);
    expect((await versionOf(regionsOf(board("bob until 12:00", "x")))).version).not.toBe(a.version);
  });

  it("sends the regions that changed since a version it remembers, nothing else; unknown versions get undefined (the whole board)", async () => {
    const mem = new VersionMemory(2);
    const r1 = regionsOf(board("Free", "x"));
    const v1 = await versionOf(r1);
    mem.remember(v1);
    const r2 = regionsOf(board("bob until 12:00", "x", "13%", "5 min ago", "10:05"));
    const v2 = await versionOf(r2);
    mem.remember(v2);
    expect(mem.changedSince(v1.version, v2, r2)!.map((r) => r.id)).toEqual(["summary", "live-host1"]);
    expect(mem.changedSince(v2.version, v2, r2)).toEqual([]);
    expect(mem.changedSince("0".repeat(40), v2, r2)).toBeUndefined();
    // A resource added to the lab: the regions differ in kind, not just content.
    const r3 = regionsOf(board("Free", "x").replace('</div></section></div>', '</div></section><div id="live-host3" data-live>new</div></div>'));
    const v3 = await versionOf(r3);
    mem.remember(v3);
    expect(mem.changedSince(v2.version, v3, r3)).toBeUndefined();
    // Only the last `keep` versions are remembered.
    expect(mem.changedSince(v1.version, v3, r3)).toBeUndefined();
  });
});
