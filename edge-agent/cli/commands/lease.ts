import { spawn } from "node:child_process";
import type { ApiClient, ApiReservation } from "../../client/api-client.ts";
import { progressFor, type Progress } from "../progress.ts";
import { when } from "./output.ts";
import { bookingBody, parse } from "./book-args.ts";
import { parseOptions, SPECS } from "../spec.ts";
import { client } from "./session.ts";
import { parseDuration } from "./time-args.ts";
import { UsageError } from "../main.ts";

/**
 * labhog lease [book options] [--ttl 60s] -- <command> [args…]
 *
 * Books with a keep-alive lease, runs the command while renewing it, and
 * releases when the command exits or this process is stopped. If this process
 * is killed outright (SIGKILL, a cancelled CI job), the keep-alives stop and
 * the Worker ends the reservation within the TTL — nobody holds a board for
 * the rest of the day. Exits with the command's exit code.
 */
export async function runLease(argv: string[]): Promise<number> {
  const dash = argv.indexOf("--");
  if (dash < 0 || dash === argv.length - 1) throw new UsageError("usage: labhog lease <what to book> [--ttl 60s] -- <command> [args…]");
  const command = argv.slice(dash + 1);
  const { values, positionals } = parse(argv.slice(0, dash), parseOptions(SPECS.lease.options));
  const ttl = parseDuration(values.ttl ?? "60s", "--ttl");
  if (ttl < 10) throw new UsageError("--ttl must be at least 10s");
  const body: Record<string, unknown> = { ...bookingBody(positionals, values), lease: { ttl } };
  if (!values.for && !values.until) body.duration = 12 * 3600; // the lease, not the end, bounds it
  const log = progressFor("lease", { json: values.json });
  const api = await client();
  const booked = await api.create(body, typeof body.wait === "number" ? body.wait : 0);
  const held = booked.reservations;
  log.info("lease granted", { reservations: held.map((r) => r.id), ttl }, `holding ${held.map((r) => `${r.resource} until ${when(r.end)}`).join(", ")}; keep-alive every ${Math.max(3, Math.floor(ttl / 3))} s, released when the command exits`);
  return runHolding(api, held, ttl, command, log);
}

async function runHolding(api: ApiClient, held: ApiReservation[], ttl: number, command: string[], log: Progress): Promise<number> {
  const first = held[0]!;
  const child = spawn(command[0]!, command.slice(1), {
    stdio: "inherit",
    env: { ...process.env, LABHOG_RESERVATION: first.id, LABHOG_RESOURCE: first.resource, LABHOG_RESOURCES: held.map((r) => r.resource).join(",") },
  });
  let lost = false;
  const renew = setInterval(() => {
    for (const r of held) {
      api.keepalive(r.id).catch((e: Error & { status?: number }) => {
        log.warn("keep-alive failed", { reservation: r.id, error: e.message }, `keep-alive for ${r.resource} failed: ${e.message}`);
        // 404/409: the lease is gone (ended by the Worker or an admin): the command no longer holds the hardware.
        if ((e.status === 404 || e.status === 409) && !lost) {
          lost = true;
          log.error("lease lost; stopping the command", { reservation: r.id }, `the lease on ${r.resource} is gone (ended by the server or an admin); stopping the command`);
          child.kill("SIGTERM");
        }
      });
    }
  }, Math.max(3, Math.floor(ttl / 3)) * 1000);
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  const code = await new Promise<number>((resolve) => {
    child.once("error", (e) => { log.error("cannot run the command", { error: e.message }, `cannot run ${command[0]}: ${e.message}`); resolve(127); });
    child.once("exit", (c, sig) => resolve(c ?? (sig ? 128 + (signalNumber(sig) ?? 1) : 1)));
  });
  clearInterval(renew);
  process.off("SIGINT", onInt);
  process.off("SIGTERM", onTerm);
  for (const r of held) {
    await api.release(r.id).catch((e: Error) => log.warn("release failed; the lease ends by itself", { reservation: r.id, error: e.message }, `could not release ${r.resource} (${e.message}); the lease ends by itself within ${ttl} s`));
  }
  log.info("lease released", { reservations: held.map((r) => r.id), exitCode: code }, `released ${held.map((r) => r.resource).join(", ")}; the command exited with ${code}`);
  return lost && code === 0 ? 1 : code;
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig];
}
