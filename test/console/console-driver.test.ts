import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConsoleDriver, type ConsoleDriver } from "../../edge-agent/drivers/console/index.ts";
import { consoleTopics, nextConsoleSeq, signConsoleInput, toBase64, type ConsoleInput } from "../../edge-agent/drivers/console/message.ts";
import type { ConsolePort } from "../../edge-agent/drivers/console/port.ts";
import { Escape } from "../../edge-agent/cli/console.ts";
import { createLogger } from "../../edge-agent/log.ts";
import { entry, testKey, type TestKey } from "../agent/helpers.ts";
import { until } from "../services/process.ts";

/**
 * The console driver's checks on what arrives on console/in, with a
 * STAND-IN port (records writes) and a recording MQTT port; the real
 * serial port, agent, Worker and broker are in console.test.ts.
 */
let dir: string;
let key: TestKey;
let other: TestKey;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "console-driver-"));
  key = await testKey("k1");
  other = await testKey("k1"); // same kid, another key: a forger's
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function rig() {
  const written: string[] = [];
  const published: { topic: string; payload: string }[] = [];
  const port: ConsolePort = {
    write: async (b) => void written.push(Buffer.from(b).toString()),
    onData: () => undefined,
    onClose: () => undefined,
    close: async () => undefined,
  };
  const log = createLogger({ level: "error" });
  const d: ConsoleDriver = createConsoleDriver(
    { path: "/dev/ttyFAKE0" },
    {
      log, simulate: false, resource: "board1", open: async () => port,
      mqtt: { prefix: "labhog/t", agent: "a1", stateDir: dir, trustedKeys: { k1: key.publicJwk }, publish: (topic, payload) => void published.push({ topic, payload: String(payload) }) },
    },
  );
  const ctx = { resource: "board1", log, simulate: false, emit: () => undefined };
  let seq = nextConsoleSeq(0, Date.now());
  const t = consoleTopics("labhog/t", "board1");
  /** Delivers one signed input and waits until the driver has handled it (a log request behind it answers). */
  const send = async (m: Partial<ConsoleInput> & Pick<ConsoleInput, "reservation" | "session" | "type">, k: TestKey = key, s = ++seq) => {
    const jws = await signConsoleInput({ v: 1, resource: "board1", seq: s, ...m }, { kid: k.kid, jwk: k.privateJwk });
    d.message(t.in, Buffer.from(jws));
    const req = `req${String(++seq).slice(-10)}`;
    d.message(t.in, Buffer.from(await signConsoleInput({ v: 1, resource: "board1", seq, reservation: m.reservation, session: m.session, type: "log", req }, { kid: key.kid, jwk: key.privateJwk })));
    await until(`the driver's answer to the log request behind a ${m.type}`, () => published.some((p) => p.topic === t.log(req)), 10_000, 5);
  };
  const data = (s: string) => toBase64(new TextEncoder().encode(s));
  return { d, ctx, written, published, send, data, seqNow: () => seq };
}

describe("console driver: what it writes to the board", () => {
  it("writes only signed input, for the active reservation, from the session that opened last", async () => {
    const { d, ctx, written, send, data, seqNow } = rig();
    const e = entry({ id: "res-1", start: new Date(Date.now() - 1000), end: new Date(Date.now() + 60_000) });
    await d.apply(e, ctx);
    await send({ reservation: "res-1", session: "session-aaaa", type: "open" });
    await send({ reservation: "res-1", session: "session-aaaa", type: "data", data: data("one\r") });
    await send({ reservation: "res-1", session: "session-aaaa", type: "data", data: data("forged\r") }, other); // bad signature
    await send({ reservation: "res-0", session: "session-aaaa", type: "data", data: data("other-booking\r") }); // not the active one
    await send({ reservation: "res-1", session: "session-aaaa", type: "data", data: data("replayed\r") }, key, seqNow() - 5); // old seq
    await send({ reservation: "res-1", session: "session-aaaa", type: "data", data: data("far-future\r") }, key, nextConsoleSeq(0, Date.now() + 3_600_000)); // outside the clock window
    await send({ reservation: "res-1", session: "session-bbbb", type: "open" }); // another session takes over
    await send({ reservation: "res-1", session: "session-aaaa", type: "data", data: data("old-writer\r") });
    await send({ reservation: "res-1", session: "session-bbbb", type: "data", data: data("two\r") });
    await d.release(ctx);
    await send({ reservation: "res-1", session: "session-bbbb", type: "data", data: data("after-release\r") });
    expect(written).toEqual(["one\r", "two\r"]);
  });

  it("announces the end of the reservation's console on release, and answers log requests for it afterwards", async () => {
    const { d, ctx, published, send, data } = rig();
    await d.apply(entry({ id: "res-2", start: new Date(Date.now() - 1000), end: new Date(Date.now() + 60_000) }), ctx);
    await send({ reservation: "res-2", session: "session-cccc", type: "data", data: data("hello\r") });
    await d.release(ctx);
    expect(published.filter((p) => p.topic === "labhog/t/resources/board1/console/out").map((p) => JSON.parse(p.payload))).toContainEqual({ reservation: "res-2", ended: true });
    await send({ reservation: "res-2", session: "session-cccc", type: "close" });
    const replies = published.filter((p) => p.topic.startsWith("labhog/t/resources/board1/console/log/")).map((p) => JSON.parse(p.payload));
    const last = replies.at(-1);
    expect(last.found).toBe(true);
    expect(last.log).toMatch(/^\S+ > "hello\\r"$/m);
    expect(last.log).toMatch(/# console closed: the booking ended\n$/);
  });
});

describe("labhog console's escape (as ssh's)", () => {
  const run = (...chunks: string[]) => {
    const e = new Escape();
    let sent = "";
    for (const c of chunks) {
      const r = e.feed(Buffer.from(c));
      sent += r.send.toString();
      if (r.leave) return { sent, left: true };
    }
    return { sent, left: false };
  };
  it("leaves on ~. at the start of a line only; ~~ sends one ~; other ~ pass through", () => {
    expect(run("~.")).toEqual({ sent: "", left: true });
    expect(run("ls\r", "~", ".")).toEqual({ sent: "ls\r", left: true });
    expect(run("a~.")).toEqual({ sent: "a~.", left: false });
    expect(run("~~.")).toEqual({ sent: "~.", left: false });
    expect(run("~x")).toEqual({ sent: "~x", left: false });
    expect(run("echo\n~.")).toEqual({ sent: "echo\n", left: true });
  });
});
