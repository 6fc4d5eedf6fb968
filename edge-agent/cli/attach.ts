import { parseArgs } from "node:util";
import { createLogger } from "../log.ts";
import { execFileArgs } from "../drivers/deps.ts";
import { attachMissing, detachHost, keepAttached } from "../drivers/usb/attach-loop.ts";
import { openTunnel, type Tunnel } from "../drivers/usb/ssh-tunnel.ts";
import { Usbip } from "../drivers/usb/usbip.ts";
import { commandHelp, parseOptions, SPECS } from "./spec.ts";
import { parseDurationMs, tryParseDuration } from "../../calendar/duration.ts";

const USAGE = commandHelp("attach", SPECS.attach);

/** What the API says about where a resource's USB devices are: its agent's host and the devices' vendor:product ids. */
export interface UsbTarget {
  host: string | null;
  ids: string[];
}

const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/**
 * From `GET /api/v1/resources/{id}`: `agent.host` (the lab file's
 * `agents.<id>.host`) and the ids of the USB devices the agent reports for
 * the resource (`usage.resources.<id>.usb.devices[].id`, "vvvv:pppp[:serial]"). Only those
 * are attached: one host's usbipd exports the devices of all its resources.
 */
export function usbTargetOf(resource: unknown): UsbTarget {
  const r = obj(resource);
  const host = obj(r?.agent)?.host;
  // The agent's latest report: {agent, at, resources: {<id>: snapshot}}, or a bare snapshot.
  const usage = obj(r?.usage);
  const per = obj(usage?.resources);
  const id = typeof r?.id === "string" ? r.id : undefined;
  const snapshot = per ? (id !== undefined && Object.hasOwn(per, id) ? obj(per[id]) : undefined) : usage;
  const devices = obj(snapshot?.usb)?.devices;
  const ids = new Set<string>();
  for (const d of Array.isArray(devices) ? devices : []) {
    const m = /^([0-9a-fA-F]{4}:[0-9a-fA-F]{4})(:|$)/.exec(String(obj(d)?.id ?? ""));
    if (m) ids.add(m[1]!.toLowerCase());
  }
  return { host: typeof host === "string" && host ? host : null, ids: [...ids] };
}

async function fromApi(resource: string): Promise<UsbTarget> {
  const { client } = await import("./commands/session.ts");
  return usbTargetOf(await (await client()).resource(resource));
}

/** `labhog attach <resource>`, on the holder's machine. Returns the exit code. */
export async function runAttach(argv: string[], deps: { lookup?: (resource: string) => Promise<UsbTarget> } = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...parseOptions(SPECS.attach.options),
        usbip: { type: "string", default: process.env.LABHOG_USBIP ?? "usbip" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const resource = positionals[0];
  const interval = tryParseDuration(values.interval ?? "2s") === undefined ? NaN : parseDurationMs(values.interval ?? "2s");
  let ids = (values.device ?? []).map((d) => d.toLowerCase());
  const bad = ids.find((d) => !/^[0-9a-f]{4}:[0-9a-f]{4}$/.test(d));
  const sshPort = values["ssh-port"] === undefined ? undefined : Number(values["ssh-port"]);
  const badPort = sshPort !== undefined && !(Number.isInteger(sshPort) && sshPort > 0 && sshPort < 65_536);
  if (!resource || positionals.length > 1 || !Number.isFinite(interval) || interval < 100 || bad || badPort) {
    process.stderr.write(`${bad ? `bad --device ${bad}: want vvvv:pppp\n` : badPort ? `bad --ssh-port ${values["ssh-port"]}\n` : ""}${USAGE}\n`);
    return 2;
  }
  let host = values.host ?? process.env.LABHOG_USBIP_HOST;
  // The API knows the host and which devices are this resource's; --host (or the variable) overrides the host.
  if (!host || ids.length === 0) {
    try {
      const t = await (deps.lookup ?? fromApi)(resource);
      host ??= t.host ?? undefined;
      if (ids.length === 0) ids = t.ids;
    } catch (e) {
      if (!host) {
        process.stderr.write(`labhog attach: cannot ask the server where ${resource} is: ${(e as Error).message} (give --host to skip the lookup)\n`);
        return 1;
      }
    }
  }
  if (!host) {
    process.stderr.write(`labhog attach: the server names no host for ${resource}'s agent (agents.<id>.host in the lab file); give --host\n`);
    return 2;
  }
  const log = createLogger({ base: { cmd: "attach", resource } });
  const say = (l: string) => process.stdout.write(`${l}\n`);
  let tunnel: Tunnel | undefined;
  try {
    if (!values.direct) {
      // usbipd on the host answers only the holder's own processes there: reach it as them, through ssh.
      tunnel = await openTunnel({
        host,
        remotePort: 3240,
        say,
        ...(values.login ? { login: values.login } : {}),
        ...(sshPort ? { sshPort } : {}),
        ...(values["ssh-config"] ? { sshConfig: values["ssh-config"] } : {}),
        ...(process.env.LABHOG_SSH ? { ssh: process.env.LABHOG_SSH } : {}),
      });
      say(`ssh tunnel to ${host} on 127.0.0.1:${tunnel.port}`);
    }
    const usbipHost = tunnel ? "127.0.0.1" : host;
    const usbip = new Usbip(execFileArgs, values.usbip, 15_000, tunnel?.port);
    const opts = { host: usbipHost, ids, usbip, log, intervalMs: interval, say };
    if (values.once) {
      const r = await attachMissing(opts);
      if (r.wanted.length === 0) {
        process.stderr.write(`${host} exports no ${ids.length ? ids.join(", ") : "devices"} for ${resource} (is the reservation active and yours?)\n`);
        return 1;
      }
      for (const f of r.failed) process.stderr.write(`attach failed: ${f}\n`);
      if (tunnel && r.attached.length > 0) {
        say(`the devices run through the ssh tunnel (pid ${tunnel.pid}); it stays up after this command ends`);
        tunnel.leave();
      }
      return r.failed.length > 0 ? 1 : 0;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      await keepAttached(opts, stop.signal);
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    if (!values.keep) await detachHost(usbip, usbipHost, say);
    else if (tunnel) {
      say(`the devices run through the ssh tunnel (pid ${tunnel.pid}); it stays up after this command ends`);
      tunnel.leave();
    }
    return 0;
  } catch (e) {
    const why = tunnel ? ` (usbipd on ${host} answers only the current holder's login: is the booking active and yours${values.login ? `, and ${values.login} your login there` : ""}?)` : "";
    process.stderr.write(`labhog attach: ${(e as Error).message}${why}\n`);
    return 1;
  } finally {
    // A no-op after leave(): then the attached devices still need it.
    await tunnel?.close();
  }
}
