import { describe, expect, it } from "vitest";
import { DURATION_ACCEPTED, durationProblem, durationSchema, formatDuration, parseDuration, parseDurationMs, tryParseDuration } from "../../calendar/duration.ts";
import { ValidationError } from "../../calendar/errors.ts";
import { durationSeconds, validateLabConfig } from "../../calendar/config/lab-config.ts";
import { parseAgentConfig } from "../../edge-agent/config/agent-config.ts";
import { powerConfigSchema } from "../../edge-agent/drivers/power/config.ts";
import { parseDuration as cliDuration } from "../../edge-agent/cli/commands/time-args.ts";
import { UsageError } from "../../edge-agent/cli/main.ts";

/**
 * One duration grammar (calendar/duration.ts) for the lab file, the agent
 * file, power steps, the API and the CLI. The API's side runs inside workerd:
 * test/worker/duration.test.ts.
 */

describe("the grammar", () => {
  it.each([
    [2, 2], ["2", 2], ["0.5", 0.5], ["90s", 90], ["30m", 1800], ["2h", 7200], ["1d", 86_400], ["1w", 604_800],
    ["1h30m", 5400], ["1h 30m", 5400], ["1d12h", 129_600], ["1m30s", 90], ["500ms", 0.5], ["1.5s", 1.5], ["2 h", 7200], [" 15s ", 15],
    ["PT2H", 7200], ["PT1H30M", 5400], ["P1D", 86_400], ["P1DT2H", 93_600], ["P2W", 1_209_600], ["PT0.5S", 0.5], ["pt2h", 7200], ["0", 0], ["0s", 0],
  ] as Array<[unknown, number]>)("%j is %d s", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each([
    "2 hours", "", " ", "h", "1h30", "30m1h", "1h1h", "-5", "1e3", "Infinity", "P", "PT", "P1M", "P1Y", "PT1H30", "2H", "1 hour", "10 minutes", "1h-30m", "x".repeat(200),
  ])("%j is refused", (text) => {
    expect(tryParseDuration(text)).toBeUndefined();
    expect(() => parseDuration(text)).toThrow(ValidationError);
  });

  it("refuses non-strings and bad numbers", () => {
    for (const v of [-1, Number.NaN, Number.POSITIVE_INFINITY, null, undefined, {}, [], true]) expect(tryParseDuration(v), String(v)).toBeUndefined();
  });

  it("the error says what is accepted", () => {
    expect(() => parseDuration("2 hours")).toThrow(`"2 hours" is not a duration: use ${DURATION_ACCEPTED}`);
    expect(DURATION_ACCEPTED).toBe("a number of seconds, or like 90s, 30m, 2h, 1d, 1h30m, 500ms, or ISO 8601 like PT2H or P1D");
  });

  it("milliseconds are whole", () => {
    expect(parseDurationMs("0.1s")).toBe(100);
    expect(parseDurationMs("1s 200ms")).toBe(1200);
    expect(parseDurationMs("PT1.5S")).toBe(1500);
  });

  it("formats to the shortest text that parses back", () => {
    const cases: Array<[number, string]> = [[0, "0s"], [0.5, "500ms"], [90, "1m30s"], [5400, "1h30m"], [86_400, "1d"], [90_061.5, "1d1h1m1s500ms"]];
    for (const [s, text] of cases) {
      expect(formatDuration(s)).toBe(text);
      expect(parseDuration(text)).toBe(s);
    }
    expect(() => formatDuration(-1)).toThrow(RangeError);
  });

  it("the zod schema keeps the text, checks bounds and extra words", () => {
    const s = durationSchema({ min: 10, max: 3600 });
    expect(s.parse("1m")).toBe("1m");
    expect(s.parse(60)).toBe(60);
    expect(s.safeParse("5s").error?.issues[0]?.message).toBe('"5s" is shorter than 10s');
    expect(s.safeParse("PT2H").error?.issues[0]?.message).toBe('"PT2H" is longer than 1h');
    expect(s.safeParse("2 hours").error?.issues[0]?.message).toBe(durationProblem("2 hours"));
    const off = durationSchema({ words: ["off"] });
    expect(off.parse("off")).toBe("off");
    expect(off.safeParse("never").error?.issues[0]?.message).toBe(`${durationProblem("never")}, or off`);
  });
});

// What each consumer says about "2 hours": the same words, whatever path or flag it adds.
const REFUSAL = durationProblem("2 hours");

const lab = (syncInterval: unknown) => ({
  site: "t",
  calendars: { default: { backend: "memory" } },
  resources: { h: { kind: "host" } },
  users: { alice: { email: "a@example.org" } },
  policy: { syncInterval },
});

const agentDoc = (grace: unknown, stabilisation: unknown) => ({
  agent: "a1",
  site: "t",
  broker: { url: "mqtt://127.0.0.1:1883" },
  trustedKeys: { k1: { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" } },
  hog: { sessionGrace: grace },
  resources: [{
    id: "b1",
    kind: "board",
    power: {
      actuators: { relay: { type: "command" } },
      devices: { board: { modes: { on: { steps: [{ actuator: "relay", parameters: { argv: ["true"] }, stabilisation }] }, off: { steps: [] } } } },
    },
  }],
});

describe("every consumer reads 1h30m and PT2H, and refuses 2 hours the same way", () => {
  it("the lab file", () => {
    expect(durationSeconds(validateLabConfig(lab("1h30m")).policy.syncInterval)).toBe(5400);
    expect(durationSeconds(validateLabConfig(lab("PT2H")).policy.syncInterval)).toBe(7200);
    expect(durationSeconds(validateLabConfig(lab(2)).policy.syncInterval)).toBe(2);
    expect(() => validateLabConfig(lab("2 hours"))).toThrow(`policy.syncInterval: ${REFUSAL}`);
  });

  it("the agent file, hog.sessionGrace (and its `off`) and a power step's stabilisation", async () => {
    const ext = { power: powerConfigSchema };
    const a = await parseAgentConfig(agentDoc("1h30m", "PT2H"), "agent.yaml", ext);
    expect(a.hog.sessionGrace).toBe("1h30m");
    const step = (a.resources[0]!.power as { devices: { board: { modes: { on: { steps: Array<{ stabilisation: number }> } } } } }).devices.board.modes.on.steps[0]!;
    expect(step.stabilisation).toBe(7_200_000); // held in ms by the sequencer
    const b = await parseAgentConfig(agentDoc("off", "1h30m"), "agent.yaml", ext);
    expect(b.hog.sessionGrace).toBe("off");
    // A bare number is seconds here too (it used to be milliseconds in power steps).
    const c = await parseAgentConfig(agentDoc("PT2H", 2), "agent.yaml", ext);
    expect((c.resources[0]!.power as any).devices.board.modes.on.steps[0].stabilisation).toBe(2000);
    await expect(parseAgentConfig(agentDoc("2 hours", "1s"), "agent.yaml", ext)).rejects.toThrow(`hog.sessionGrace: ${REFUSAL}, or off`);
    await expect(parseAgentConfig(agentDoc("1s", "2 hours"), "agent.yaml", ext)).rejects.toThrow(REFUSAL);
    expect(powerConfigSchema.safeParse(agentDoc("1s", "2 hours").resources[0]!.power).error?.issues[0]?.message).toBe(REFUSAL);
  });

  it("a CLI argument", () => {
    expect(cliDuration("1h30m", "--for")).toBe(5400);
    expect(cliDuration("PT2H", "--for")).toBe(7200);
    expect(cliDuration("90", "--for")).toBe(90);
    expect(() => cliDuration("2 hours", "--for")).toThrow(UsageError);
    expect(() => cliDuration("2 hours", "--for")).toThrow(`--for: ${REFUSAL}`);
  });
});
