import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, startCliLab, type CliLab } from "./cli-lab.ts";
import { parseEdge, statsText } from "../../edge-agent/cli/commands/stats.ts";

/**
 * `labhog stats` (the real binary against the real Worker in workerd): the
 * table, --csv and --json of GET /api/v1/stats for two bookings made with
 * `labhog book`, in a window that holds both whole.
 */
let lab: CliLab;
beforeAll(async () => {
  lab = await startCliLab();
}, 120_000);
afterAll(async () => {
  await lab?.stop();
});

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe("labhog stats", () => {
  it("table, --csv and --json for a window holding two whole bookings", async () => {
    const t0 = Math.ceil(Date.now() / HOUR) * HOUR + 2 * HOUR;
    for (const [res, who] of [["host3", "alice"], ["board2", "bob"]] as const) {
      const b = await lab.labhog(["book", res, "--start", iso(t0), "--for", "2h", "--purpose", "stats"], { who });
      expect(b.code, b.stderr).toBe(0);
    }
    const window = ["--from", iso(t0 - HOUR), "--to", iso(t0 + 3 * HOUR)];

    const byPool = await lab.labhog(["stats", ...window, "--by", "pool", "--json"]);
    expect(byPool.code, byPool.stderr).toBe(0);
    const j = json(byPool);
    expect(j.groups.map((g: any) => [g.group, g.resources, g.bookedHours, g.usedHours, g.idleHours, g.reservations])).toEqual([
      ["(no pool)", 6, 2, 0, 0, 1],
      ["boards", 2, 2, 0, 0, 1],
    ]);
    expect([j.from, j.to, j.total.bookedHours, j.total.resources]).toEqual([iso(t0 - HOUR), iso(t0 + 3 * HOUR), 4, 8]);

    const csv = await lab.labhog(["stats", ...window, "--by", "user", "--csv"]);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout.trim().split("\n")).toEqual([
      "user,booked h,used h,idle h,unbooked h,no-shows,util %,reservations",
      "alice,2.00,0.00,0.00,0.00,0,0.0,1",
      "bob,2.00,0.00,0.00,0.00,0,0.0,1",
      "total,4.00,0.00,0.00,0.00,0,0.0,2",
    ]);

    const human = await lab.labhog(["stats", ...window]);
    expect(human.code, human.stderr).toBe(0);
    const lines = human.stdout.trim().split("\n");
    expect(lines[0]).toBe(`${iso(t0 - HOUR)} – ${iso(t0 + 3 * HOUR)}`);
    expect(lines[1]).toMatch(/^resource +booked h +used h +idle h +unbooked h +no-shows +util % +reservations$/);
    expect(lines.find((l) => l.startsWith("host3 "))).toMatch(/^host3 +2\.00 +0\.00 +0\.00 +0\.00 +0 +0\.0 +1$/);
    expect(lines.at(-1)).toMatch(/^total +4\.00 /);
  });

  it("refuses what it can't mean: exit 2 for bad options, the server's 400 (exit 3) for a window over 400 days", async () => {
    for (const args of [["--by", "host"], ["--json", "--csv"], ["--from", "18:00"], ["host1"]]) {
      const r = await lab.labhog(["stats", ...args]);
      expect([r.code, r.stderr.split("\n")[0]], args.join(" ")).toEqual([2, expect.stringMatching(/^labhog stats: /)]);
    }
    const long = await lab.labhog(["stats", "--from", "2020-01-01", "--to", "2026-01-01"]);
    expect([long.code, long.stderr.trim()]).toEqual([3, expect.stringMatching(/at most 400 days/)]);
  });
});

describe("stats arguments and output", () => {
  const now = new Date("2026-05-20T12:00:00Z");
  it("window edges: a date, a date and time, ISO, or a duration back from now", () => {
    expect(parseEdge("30d", now).toISOString()).toBe("2026-04-20T12:00:00.000Z");
    expect(parseEdge("2026-05-04T09:00:00Z", now).toISOString()).toBe("2026-05-04T09:00:00.000Z");
    expect(parseEdge("2026-05-04", now).getTime()).toBe(new Date(2026, 4, 4).getTime());
    expect(parseEdge("2026-05-04 09:00", now).getTime()).toBe(new Date(2026, 4, 4, 9).getTime());
  });
  it("CSV fields with commas or quotes are quoted (RFC 4180)", () => {
    const row = { group: 'a,"b"', resources: 1, bookedHours: 1.5, usedHours: 1, idleHours: 0.5, unbookedHours: 0, noShows: 0, utilisation: 12.5, reservations: 1 };
    expect(statsText({ from: "f", to: "t", by: "pool", groups: [row], total: { ...row, group: "total" }, lastSync: null, stale: false }, true).split("\n")[1]).toBe('"a,""b""",1.50,1.00,0.50,0.00,0,12.5,1');
  });
});
