import type { Logger } from "../../log.ts";
import { sleep } from "../deps.ts";
import type { ImportedDevice, RemoteDevice, Usbip } from "./usbip.ts";

export interface AttachOptions {
  host: string;
  /** Only these "vvvv:pppp" ids (usbip's remote list shows no serials); all exported devices when empty. */
  ids: string[];
  usbip: Usbip;
  log: Logger;
  /** How often `usbip port` is checked for devices that dropped off (a board reset, a DFU switch). */
  intervalMs: number;
  /** Also re-list the remote every this many intervals, to pick up devices exported later. */
  relistEvery?: number;
  say(line: string): void;
}

const sameDevice = (host: string) => (p: ImportedDevice, r: RemoteDevice) => p.host === host && p.busid === r.busid;

/**
 * Attaches what `host` exports that is not attached yet. Returns the remote devices now wanted.
 * A device the agent re-bound on a new bus id after a reset shows up here as a new export.
 */
export async function attachMissing(opts: AttachOptions): Promise<{ wanted: RemoteDevice[]; attached: RemoteDevice[]; failed: string[] }> {
  const remote = (await opts.usbip.listRemote(opts.host)).filter((r) => opts.ids.length === 0 || opts.ids.includes(r.id));
  if (remote.length === 0) return { wanted: remote, attached: [], failed: [] };
  const ports = await opts.usbip.ports();
  const attached: RemoteDevice[] = [];
  const failed: string[] = [];
  for (const r of remote) {
    if (ports.some((p) => sameDevice(opts.host)(p, r))) continue;
    try {
      await opts.usbip.attach(opts.host, r.busid);
      attached.push(r);
      opts.say(`attached ${r.id} ${r.description} (${opts.host} ${r.busid})`);
    } catch (e) {
      failed.push(`${r.busid}: ${(e as Error).message}`);
      opts.log.warn("attach failed", { host: opts.host, busid: r.busid, error: e });
    }
  }
  return { wanted: remote, attached, failed };
}

/**
 * Keeps the host's devices attached until `signal` aborts: polls `usbip port`, and when
 * a device from the host is gone (the remote end reset, re-enumerated, was re-bound on
 * another bus id) lists the remote again and attaches what is exported now.
 */
export async function keepAttached(opts: AttachOptions, signal: AbortSignal): Promise<void> {
  const relistEvery = opts.relistEvery ?? 10;
  let known = new Set<string>();
  let tick = 0;
  const refresh = async () => {
    const { wanted } = await attachMissing(opts);
    known = new Set(wanted.map((w) => w.busid));
  };
  await refresh();
  while (!signal.aborted) {
    try {
      await sleep(opts.intervalMs, signal);
    } catch {
      break;
    }
    tick++;
    try {
      const here = new Set((await opts.usbip.ports()).filter((p) => p.host === opts.host).map((p) => p.busid));
      const dropped = [...known].filter((b) => !here.has(b));
      if (dropped.length > 0) opts.say(`lost ${dropped.join(", ")} from ${opts.host}; re-attaching`);
      if (dropped.length > 0 || tick % relistEvery === 0 || known.size === 0) await refresh();
    } catch (e) {
      // The host may be rebooting or the network down: keep trying.
      opts.log.warn("re-attach round failed", { host: opts.host, error: e });
    }
  }
}

/** Detaches the ports imported from `host` (when the user stops `labhog attach`). */
export async function detachHost(usbip: Usbip, host: string, say: (l: string) => void): Promise<void> {
  for (const p of await usbip.ports()) {
    if (p.host !== host) continue;
    await usbip.detach(p.port).then(() => say(`detached ${p.busid} (port ${p.port})`), (e: Error) => say(`detach port ${p.port} failed: ${e.message}`));
  }
}
