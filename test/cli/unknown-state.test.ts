import { describe, expect, it } from "vitest";
import type { ApiResource } from "../../edge-agent/client/api-client.ts";
import { resourceRows } from "../../edge-agent/cli/commands/output.ts";
import { blockedBy, isFree } from "../../edge-agent/cli/commands/wait.ts";

/**
 * A list may answer before a waking ledger has read its calendar (LIST_WAIT_MS):
 * such a resource comes back with no reservations, marked `syncing`. The CLI
 * must never print that as "free", nor let `labhog wait` take it.
 */
const base: ApiResource = {
  id: "board1", name: "Board 1", kind: "board", pool: "boards", tags: {},
  agent: { id: "a1", status: "online", lastSeen: null }, usage: null, current: [], next: null, conflicts: 0,
};

describe("resources the Worker could not read yet", () => {
  it("a known empty resource is free", () => {
    expect(resourceRows([base])[0]![2]).toBe("free");
    expect(isFree(base)).toBe(true);
  });

  it("syncing: shown unknown, never free, and wait does not take it", () => {
    const r: ApiResource = { ...base, syncing: true, stale: true, unreachableSince: null };
    expect(resourceRows([r])[0]![2]).toBe("unknown: reading its calendar");
    expect(isFree(r)).toBe(false);
    expect(blockedBy(r)).toBe("board1: unknown: reading its calendar");
  });

  it("unreadable: shown unknown, never free", () => {
    const r: ApiResource = { ...base, unreadable: true, stale: true };
    expect(resourceRows([r])[0]![2]).toBe("unknown: calendar unreachable");
    expect(isFree(r)).toBe(false);
  });

  it("stale cache: its state is shown with the cache mark; wait does not take it as free", () => {
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const r: ApiResource = { ...base, stale: true, unreachableSince: since };
    const row = resourceRows([r])[0]!;
    expect(row[2]).toBe("free");
    expect(row[5]).toMatch(/^cached: calendar unreachable since \d\d:\d\d|^cached: calendar unreachable since \d{4}-/);
    expect(isFree(r)).toBe(false);
    expect(blockedBy(r)).toMatch(/^board1: unknown: calendar unreachable since /);
  });
});
