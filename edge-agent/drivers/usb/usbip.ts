import type { ExecFn } from "../deps.ts";
import { ExecError } from "../deps.ts";
import { BUSID } from "./device-id.ts";

/** The usbip userspace tool, always with argument arrays. */
export class Usbip {
  /** `tcpPort`: talk to usbipd on this port (the local end of an SSH tunnel) instead of 3240. */
  constructor(private readonly exec: ExecFn, private readonly file = "usbip", private readonly timeout = 15_000, private readonly tcpPort?: number) {}

  /** usbip's global options go before the command. */
  private remote(args: string[]): string[] {
    return this.tcpPort === undefined ? args : ["--tcp-port", String(this.tcpPort), ...args];
  }

  /** Exports a device. Binding a device already bound counts as done (idempotent). */
  async bind(busid: string): Promise<"bound" | "already"> {
    checkBusid(busid);
    try {
      await this.exec(this.file, ["bind", "-b", busid], { timeout: this.timeout });
      return "bound";
    } catch (e) {
      if (e instanceof ExecError && /already bound/i.test(e.stderr + e.stdout)) return "already";
      throw e;
    }
  }

  /** Gives a device back to its normal driver. Unbinding something not bound (or gone) counts as done. */
  async unbind(busid: string): Promise<"unbound" | "not-bound"> {
    checkBusid(busid);
    try {
      await this.exec(this.file, ["unbind", "-b", busid], { timeout: this.timeout });
      return "unbound";
    } catch (e) {
      if (e instanceof ExecError && /not bound|device not found|no such/i.test(e.stderr + e.stdout)) return "not-bound";
      throw e;
    }
  }

  /** Devices a remote usbipd exports. */
  async listRemote(host: string): Promise<RemoteDevice[]> {
    checkHost(host);
    const { stdout } = await this.exec(this.file, this.remote(["list", "-r", host]), { timeout: this.timeout });
    return parseRemoteList(stdout);
  }

  async attach(host: string, busid: string): Promise<void> {
    checkHost(host);
    checkBusid(busid);
    await this.exec(this.file, this.remote(["attach", "-r", host, "-b", busid]), { timeout: this.timeout });
  }

  async detach(port: string): Promise<void> {
    if (!/^\d+$/.test(port)) throw new Error(`bad vhci port ${JSON.stringify(port)}`);
    await this.exec(this.file, ["detach", "-p", port], { timeout: this.timeout });
  }

  /** Devices imported on this machine (vhci ports). */
  async ports(): Promise<ImportedDevice[]> {
    const { stdout } = await this.exec(this.file, ["port"], { timeout: this.timeout });
    return parsePorts(stdout);
  }
}

export interface RemoteDevice {
  busid: string;
  /** "vvvv:pppp" */
  id: string;
  description: string;
}

export interface ImportedDevice {
  port: string;
  host: string;
  busid: string;
  id?: string;
}

function checkBusid(busid: string): void {
  if (!BUSID.test(busid)) throw new Error(`bad USB bus id ${JSON.stringify(busid)}`);
}

function checkHost(host: string): void {
  // A host name or address, never an option.
  if (!/^[A-Za-z0-9][A-Za-z0-9.:_%-]*$/.test(host)) throw new Error(`bad usbip host ${JSON.stringify(host)}`);
}

/**
 * `usbip list -r HOST`:
 *       1-1.2: STMicroelectronics : STM Device in DFU Mode (0483:df11)
 *            : /sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2
 */
export function parseRemoteList(text: string): RemoteDevice[] {
  const out: RemoteDevice[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+-\d+(?:\.\d+)*):\s+(.*)\(([0-9a-fA-F]{4}:[0-9a-fA-F]{4})\)\s*$/.exec(line);
    if (m) out.push({ busid: m[1]!, id: m[3]!.toLowerCase(), description: m[2]!.trim() });
  }
  return out;
}

/**
 * `usbip port`:
 *   Port 00: <Port in Use> at High Speed(480Mbps)
 *          STMicroelectronics : STM Device in DFU Mode (0483:df11)
 *          3-1 -> usbip://10.0.0.5:3240/1-1.2
 */
export function parsePorts(text: string): ImportedDevice[] {
  const out: ImportedDevice[] = [];
  let cur: { port: string; id?: string } | undefined;
  for (const line of text.split("\n")) {
    const p = /^Port (\d+):/.exec(line);
    if (p) { cur = { port: String(Number(p[1])) }; continue; }
    if (!cur) continue;
    const id = /\(([0-9a-fA-F]{4}:[0-9a-fA-F]{4})\)\s*$/.exec(line);
    if (id) cur.id = id[1]!.toLowerCase();
    const u = /usbip:\/\/(\[[^\]]+\]|[^/:]+)(?::\d+)?\/(\d+-\d+(?:\.\d+)*)/.exec(line);
    if (u) out.push({ port: cur.port, host: u[1]!.replace(/^\[|\]$/g, ""), busid: u[2]!, ...(cur.id ? { id: cur.id } : {}) });
  }
  return out;
}
