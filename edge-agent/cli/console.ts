import WebSocket from "ws";
import { LabhogError, UnavailableError } from "../../calendar/errors.ts";
import { ApiProblemError, type ApiReservation, type Problem } from "../client/api-client.ts";
import { loadClientConfig, type ClientConfig } from "../client/client-config.ts";
import { parse } from "./commands/book-args.ts";
import { UsageError } from "./main.ts";
import { parseOptions, SPECS } from "./spec.ts";

/** Close codes of the Worker's console socket (worker/console/relay.ts). */
const ENDED = 4000;
const TAKEN_OVER = 4001;
/** ws's closeTimeout (an option @types/ws does not list). */
export const CLOSE_WAIT_MS = 1500;

const codeOf = (status: number) => (status === 401 ? "unauthorized" : status === 403 ? "forbidden" : status === 404 ? "not-found" : status === 409 ? "conflict" : status === 400 ? "invalid" : "failed");

/** A refusal before the upgrade, as the one-line error `labhog` prints (403 → exit 4). */
export function refusal(status: number, body: string): LabhogError {
  let p: Problem;
  try {
    p = JSON.parse(body) as Problem;
  } catch {
    p = { type: "about:blank", title: `HTTP ${status}`, status, detail: body.slice(0, 200) || `HTTP ${status}` };
  }
  if (status === 503) return new UnavailableError(p.detail ?? p.title);
  return new ApiProblemError({ ...p, status }, codeOf(status));
}

/**
 * ssh's escape: `~.` at the start of a line leaves, `~~` sends one `~`.
 * Fed the keystrokes, it answers what to send and whether to leave.
 */
export class Escape {
  #lineStart = true;
  #tilde = false;

  feed(chunk: Buffer): { send: Buffer; leave: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (this.#tilde) {
        this.#tilde = false;
        if (b === 0x2e) return { send: Buffer.from(out), leave: true }; // "."
        if (b !== 0x7e) out.push(0x7e); // anything but "~~" sends the held "~" too
        out.push(b);
      } else if (this.#lineStart && b === 0x7e) {
        this.#tilde = true;
        continue;
      } else out.push(b);
      this.#lineStart = b === 0x0d || b === 0x0a;
    }
    return { send: Buffer.from(out), leave: false };
  }
}

function socketUrl(cfg: ClientConfig, resource: string, watch: boolean): string {
  return `${cfg.url.replace(/^http/, "ws")}/api/v1/resources/${encodeURIComponent(resource)}/console${watch ? "?watch=1" : ""}`;
}

/** The reservation whose log `--log` fetches: the id given, else my running (else latest started) booking of the resource. */
async function logReservation(ref: string): Promise<string> {
  if (ref.includes(":")) return ref;
  const { client } = await import("./commands/session.ts");
  const api = await client();
  const me = await api.me();
  const now = Date.now();
  const { reservations } = await api.reservations({ resource: ref, holder: me.id, from: new Date(now - 30 * 86_400_000).toISOString(), to: new Date(now + 60_000).toISOString() });
  const started = reservations.filter((r: ApiReservation) => Date.parse(r.start) <= now).sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
  const found = started.find((r) => r.state === "active") ?? started[0];
  if (!found) throw new UsageError(`you have no running or past reservation on ${ref} in the last 30 days`);
  return found.id;
}

async function printLog(cfg: ClientConfig, ref: string): Promise<number> {
  const id = await logReservation(ref);
  let res: Response;
  try {
    res = await fetch(`${cfg.url}/api/v1/reservations/${encodeURIComponent(id)}/console.log`, {
      headers: { accept: "text/plain, application/problem+json", ...(cfg.token ? { authorization: `Bearer ${cfg.token}` } : {}) },
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new UnavailableError(`cannot reach ${cfg.url}: ${(e as Error).message}`, undefined, { cause: e });
  }
  const text = await res.text();
  if (!res.ok) throw refusal(res.status, text);
  process.stdout.write(text);
  return 0;
}

/**
 * `labhog console <resource|id>`: the board's serial console through the
 * Worker, in a raw terminal; `~.` after a newline leaves (as in ssh).
 * `--watch` opens a read-only session (admins); `--log` prints the
 * reservation's console log instead.
 */
export async function runConsole(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, parseOptions(SPECS.console.options));
  const ref = positionals[0];
  if (!ref || positionals.length > 1) throw new UsageError("name one resource or reservation id");
  const cfg = await loadClientConfig();
  if (values.log) return printLog(cfg, ref);
  const resource = ref.includes(":") ? ref.slice(0, ref.indexOf(":")) : ref;
  const ws = new WebSocket(socketUrl(cfg, resource, !!values.watch), {
    headers: cfg.token ? { authorization: `Bearer ${cfg.token}` } : {},
    // After the Worker's close frame ("the booking ended") ws waits for the server to drop the TCP connection,
    // 30 s by default; a proxy in between may keep it open. The close code has arrived by then.
    closeTimeout: CLOSE_WAIT_MS,
  } as WebSocket.ClientOptions);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      // Nothing more on this connection: without this, Node's keep-alive pool holds the process 5 s.
      const socket = res.socket;
      res.on("data", (b: Buffer) => (body += b.toString()));
      res.on("end", () => {
        socket?.destroy();
        reject(refusal(res.statusCode ?? 0, body));
      });
    });
    ws.once("error", (e) => reject(new UnavailableError(`cannot reach ${cfg.url}: ${e.message}`, undefined, { cause: e })));
  });
  return session(ws, resource, !!values.watch);
}

function session(ws: WebSocket, resource: string, watch: boolean): Promise<number> {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  const say = (s: string) => process.stderr.write(`${tty ? "\r\n" : ""}${s}${tty ? "\r\n" : "\n"}`);
  if (tty) stdin.setRawMode(true);
  say(`labhog: ${resource} console${watch ? " (watching, read-only)" : ""}; ~. after a newline leaves`);
  const escape = new Escape();
  let left = false;
  return new Promise<number>((resolve) => {
    const finish = (code: number, message?: string) => {
      stdin.off("data", onData);
      if (tty) stdin.setRawMode(false);
      stdin.pause();
      if (message) say(message);
      resolve(code);
    };
    const onData = (chunk: Buffer) => {
      const { send, leave } = escape.feed(chunk);
      if (send.length && !watch && ws.readyState === WebSocket.OPEN) ws.send(send);
      if (leave) {
        left = true;
        ws.close(1000, "left");
      }
    };
    stdin.on("data", onData);
    stdin.once("end", () => {
      if (ws.readyState === WebSocket.OPEN) ws.close(1000, "input ended");
    });
    stdin.resume();
    ws.on("message", (data: Buffer) => process.stdout.write(data));
    ws.once("close", (code, reason) => {
      if (left) return finish(0, "labhog: console closed");
      if (code === ENDED) return finish(0, `labhog: ${reason.toString() || "the booking ended"}`);
      if (code === TAKEN_OVER) return finish(1, `labhog: ${reason.toString() || "another session took the console"}`);
      if (code === 1000) return finish(0, "labhog: console closed");
      finish(1, `labhog: console connection lost (${code}${reason.length ? ` ${reason.toString()}` : ""})`);
    });
  });
}
