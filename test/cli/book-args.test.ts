import { describe, expect, it } from "vitest";
import { bookingBody, bookOptions, parse } from "../../edge-agent/cli/commands/book-args.ts";

/** `labhog book --every …` as the API's create body (edge-agent/cli/commands/book-args.ts). */
const NOW = new Date("2026-12-01T12:00:00Z");
const body = (argv: string[]) => {
  const { values, positionals } = parse(argv, bookOptions);
  return bookingBody(positionals, values, NOW);
};

describe("labhog book --every", () => {
  it("days of the week, --from, --for and --until <date>: a weekly repeat through that day", () => {
    const b = body(["host1", "--every", "tue,thu", "--from", "2026-12-08 09:00", "--for", "3h", "--until", "2027-03-01", "--skip-conflicts"]);
    expect(b).toEqual({
      resource: "host1",
      start: new Date("2026-12-08T09:00").toISOString(),
      duration: 10_800,
      repeat: { freq: "weekly", byDay: ["TU", "TH"], until: "2027-03-01" },
      skipConflicts: true,
    });
  });

  it("day/week/month and --count", () => {
    expect(body(["host1", "--every", "day", "--count", "5", "--for", "1h"]).repeat).toEqual({ freq: "daily", count: 5 });
    expect(body(["host1", "--every", "Monthly", "--count", "3"]).repeat).toEqual({ freq: "monthly", count: 3 });
    expect(body(["host1", "--every", "week", "--count", "2", "--start", "2026-12-08 09:00"]).start).toBe(new Date("2026-12-08T09:00").toISOString());
  });

  it("refuses what can't be a series, with a usage error", () => {
    expect(() => body(["host1", "--every", "tue"])).toThrow(/--until <last day> or --count N/);
    expect(() => body(["host1", "--every", "tue", "--count", "2", "--until", "2027-01-01"])).toThrow(/one of them/);
    expect(() => body(["host1", "--every", "tue,funday", "--count", "2"])).toThrow(/"funday" is not a day/);
    expect(() => body(["--pool", "boards", "--every", "tue", "--count", "2"])).toThrow(/one resource/);
    expect(() => body(["host1", "--every", "tue", "--count", "x"])).toThrow(/--count/);
    expect(() => body(["host1", "--count", "2"])).toThrow(/--count goes with --every/);
    expect(() => body(["host1", "--skip-conflicts"])).toThrow(/--skip-conflicts goes with --every/);
  });

  it("without --every nothing changes: --until is the end", () => {
    expect(body(["host1", "--start", "2026-12-08 09:00", "--until", "2026-12-08 11:00"])).toEqual({ resource: "host1", start: new Date("2026-12-08T09:00").toISOString(), end: new Date("2026-12-08T11:00").toISOString() });
  });
});
