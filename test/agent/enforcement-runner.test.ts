import { afterEach, describe, expect, it } from "vitest";
import type { Enforcement } from "../../edge-agent/agent/enforcement.ts";
import { ResourceRunner, type AgentDriver } from "../../edge-agent/agent/resource-runner.ts";
import type { AgentEvent, DriverContext } from "../../edge-agent/drivers/driver.ts";
import { createLogger } from "../../edge-agent/log.ts";
import { entry, schedule } from "./helpers.ts";

/**
 * The verdict rules of ResourceRunner, with drivers scripted in memory (the
 * real-driver, real-broker version is enforcement.test.ts): what counts as a
 * failure, what does not, and that a silent retry is not taken for a success
 * when the driver still lists the problem.
 */
let runner: ResourceRunner | undefined;
afterEach(() => runner?.stop());

function setup(drivers: AgentDriver[], advisory: string[] = []) {
  const events: AgentEvent[] = [];
  const verdicts: Enforcement[] = [];
  runner = new ResourceRunner({
    resource: "r",
    drivers,
    state: { active: null, drivers: {} },
    policy: "keep",
    endingSoonMs: 0,
    simulate: false,
    log: createLogger({ level: "error" }),
    emit: (e) => events.push(e),
    persist: async () => {},
    changed: async () => {},
    advisory: new Set(advisory),
    enforced: (e) => verdicts.push(e),
  });
  const enforced = () => events.filter((e) => e.action === "enforced");
  const waitEnforced = async (n: number) => {
    for (let i = 0; i < 200 && enforced().length < n; i++) await new Promise((r) => setTimeout(r, 25));
    expect(enforced().length, JSON.stringify(enforced())).toBeGreaterThanOrEqual(n);
    return enforced()[n - 1]!;
  };
  return { events, verdicts, enforced, waitEnforced, runner };
}

const booking = () => schedule("r", 1, [entry({ id: "b1", start: new Date(Date.now() - 1000), end: new Date(Date.now() + 3600_000) })]);

/** A driver whose apply does what the test says next. */
function scripted(name: string) {
  const d = {
    name,
    applies: 0,
    onApply: (_ctx: DriverContext): void => {},
    listed: [] as string[],
    ctx: undefined as DriverContext | undefined,
    async apply(_e: unknown, ctx: DriverContext) {
      d.applies++;
      d.ctx = ctx;
      d.onApply(ctx);
    },
    async release() {},
    problems: () => d.listed,
  };
  return d;
}

describe("enforcement verdict", () => {
  it("a notify failure (advisory) leaves the booking enforced", async () => {
    const notify = scripted("notify");
    notify.onApply = (ctx) => ctx.emit({ action: "wall", ok: false, message: "wall: not found" });
    const t = setup([notify], ["notify"]);
    await t.runner.start();
    await t.runner.accept(booking());
    expect(t.enforced().at(-1)).toMatchObject({ ok: true, problems: [], reservation: "b1" });
  });

  it("a failure reported once and then only listed in problems() keeps the verdict failed until the driver clears it", async () => {
    const usb = scripted("usb");
    usb.onApply = (ctx) => {
      if (usb.applies === 1) ctx.emit({ action: "usb", ok: false, message: "probe: bind 1-1 failed" });
    };
    const t = setup([usb]);
    await t.runner.start();
    usb.listed = ["probe: bind 1-1 failed"];
    await t.runner.accept(booking());
    expect(t.enforced().at(-1)).toMatchObject({ ok: false, problems: ["usb: probe: bind 1-1 failed"], retryInMs: 1000 });
    // The retry is silent (the driver reports a failure only once): still failed, because problems() lists it.
    const second = await t.waitEnforced(3);
    expect(usb.applies).toBe(2);
    expect(second).toMatchObject({ ok: false, problems: ["usb: probe: bind 1-1 failed"], retryInMs: 2000 });
    usb.listed = [];
    const third = await t.waitEnforced(4);
    expect(third).toMatchObject({ ok: true, problems: [] });
    expect(t.enforced().filter((e) => e.ok)).toHaveLength(2); // the start-up release and the fixed one
  });

  it("a throwing driver fails the attempt; the other drivers still run", async () => {
    const power = scripted("power");
    power.onApply = () => {
      throw new Error("relay unreachable");
    };
    const hog = scripted("hog");
    const t = setup([power, hog]);
    await t.runner.start();
    await t.runner.accept(booking());
    expect(hog.applies).toBe(1);
    expect(t.enforced().at(-1)).toMatchObject({ ok: false, problems: ["power: apply failed: relay unreachable"] });
  });

  it("a failure reported between attempts turns the verdict failed at once and is retried", async () => {
    const hog = scripted("hog");
    const t = setup([hog]);
    await t.runner.start();
    await t.runner.accept(booking());
    expect(t.enforced().at(-1)).toMatchObject({ ok: true });
    const n = t.enforced().length;
    // E.g. a session that could not be ended after the grace period.
    hog.ctx!.emit({ action: "sessions-ended", ok: false, message: "cannot end alice's session: EPERM" });
    const late = await t.waitEnforced(n + 1);
    expect(late).toMatchObject({ ok: false, problems: ["hog: cannot end alice's session: EPERM"], retryInMs: 1000, reservation: "b1" });
    expect(t.verdicts.at(-1)).toMatchObject({ ok: false, failures: 1, state: "held" });
    // The retry applies again; the driver reports nothing wrong this time.
    const retried = await t.waitEnforced(n + 2);
    expect(hog.applies).toBe(2);
    expect(retried).toMatchObject({ ok: true, problems: [] });
    expect(t.verdicts.at(-1)).toMatchObject({ ok: true, failures: 0 });
    expect(Date.parse(t.verdicts.at(-1)!.since)).toBeGreaterThanOrEqual(Date.parse(t.verdicts.at(-2)!.at));
  });
});
