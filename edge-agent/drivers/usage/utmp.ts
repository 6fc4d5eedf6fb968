import { access, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

/** glibc's struct utmp on x86_64 (and aarch64): 384 bytes, little endian, 32-bit ut_tv. */
export const UTMP_RECORD_SIZE = 384;
export const USER_PROCESS = 7;

const OFF = { type: 0, pid: 4, line: 8, id: 40, user: 44, host: 76, session: 336, tvSec: 340, tvUsec: 344, addr: 348 } as const;
const LEN = { line: 32, id: 4, user: 32, host: 256 } as const;

export interface UtmpRecord {
  type: number;
  pid: number;
  line: string;
  id: string;
  user: string;
  host: string;
  session: number;
  /** Login time, seconds since the epoch. */
  time: number;
  /** The peer's address when ut_addr_v6 is set. */
  addr?: string;
}

const cstr = (buf: Buffer, off: number, len: number) => {
  const end = buf.indexOf(0, off);
  return buf.toString("utf8", off, end === -1 || end > off + len ? off + len : end);
};

function address(buf: Buffer, off: number): string | undefined {
  const words = [0, 1, 2, 3].map((i) => buf.readUInt32BE(off + i * 4));
  if (words.every((w) => w === 0)) return undefined;
  // Only the first word set: an IPv4 address (stored in network order).
  if (words[1] === 0 && words[2] === 0 && words[3] === 0) return [0, 1, 2, 3].map((i) => buf[off + i]).join(".");
  const hex: string[] = [];
  for (let i = 0; i < 16; i += 2) hex.push(buf.readUInt16BE(off + i).toString(16));
  return hex.join(":");
}

/** Parses a utmp file's records; a truncated last record (being written) is ignored. */
export function parseUtmp(buf: Buffer): UtmpRecord[] {
  const out: UtmpRecord[] = [];
  for (let o = 0; o + UTMP_RECORD_SIZE <= buf.length; o += UTMP_RECORD_SIZE) {
    const addr = address(buf, o + OFF.addr);
    out.push({
      type: buf.readInt16LE(o + OFF.type),
      pid: buf.readInt32LE(o + OFF.pid),
      line: cstr(buf, o + OFF.line, LEN.line),
      id: cstr(buf, o + OFF.id, LEN.id),
      user: cstr(buf, o + OFF.user, LEN.user),
      host: cstr(buf, o + OFF.host, LEN.host),
      session: buf.readInt32LE(o + OFF.session),
      time: buf.readInt32LE(o + OFF.tvSec) + buf.readInt32LE(o + OFF.tvUsec) / 1e6,
      ...(addr ? { addr } : {}),
    });
  }
  return out;
}

/** The writer side, for tests and tools: one record in glibc's layout. */
export function encodeUtmp(r: Partial<UtmpRecord> & { type: number }): Buffer {
  const buf = Buffer.alloc(UTMP_RECORD_SIZE);
  buf.writeInt16LE(r.type, OFF.type);
  buf.writeInt32LE(r.pid ?? 0, OFF.pid);
  buf.write(r.line ?? "", OFF.line, LEN.line, "utf8");
  buf.write(r.id ?? "", OFF.id, LEN.id, "utf8");
  buf.write(r.user ?? "", OFF.user, LEN.user, "utf8");
  buf.write(r.host ?? "", OFF.host, LEN.host, "utf8");
  buf.writeInt32LE(r.session ?? 0, OFF.session);
  buf.writeInt32LE(Math.floor(r.time ?? 0), OFF.tvSec);
  buf.writeInt32LE(Math.round(((r.time ?? 0) % 1) * 1e6), OFF.tvUsec);
  if (r.addr && /^\d+\.\d+\.\d+\.\d+$/.test(r.addr)) r.addr.split(".").forEach((b, i) => buf.writeUInt8(Number(b), OFF.addr + i));
  return buf;
}

export interface Session {
  user: string;
  tty: string;
  /** Remote host or address; absent for local logins. */
  from?: string;
  /** ISO time of login. */
  since: string;
  /** Seconds since the terminal last saw input (its atime), when the tty can be stat'ed. */
  idleSeconds?: number;
  pid: number;
}

export interface SessionOptions {
  utmp: string;
  devRoot: string;
  /** Entries whose login process is gone (a crash left them in utmp) are dropped. */
  procRoot?: string;
  now?: number;
}

/** Who is logged in, from utmp (what `who` shows), with idle time from each tty's atime. */
export async function readSessions(opts: SessionOptions): Promise<Session[]> {
  let buf: Buffer;
  try {
    buf = await readFile(opts.utmp);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return []; // containers often have none: nobody logged in via login/sshd
    throw e;
  }
  const now = opts.now ?? Date.now();
  const out: Session[] = [];
  for (const r of parseUtmp(buf)) {
    if (r.type !== USER_PROCESS || !r.user) continue;
    if (opts.procRoot && r.pid > 0 && !(await access(join(opts.procRoot, String(r.pid))).then(() => true, () => false))) continue;
    const s: Session = { user: r.user, tty: r.line, since: new Date(r.time * 1000).toISOString(), pid: r.pid };
    const from = r.host || r.addr;
    if (from) s.from = from;
    // ut_line is relative to /dev; refuse anything that would leave it.
    if (r.line && !r.line.split("/").includes("..") && !r.line.startsWith("/")) {
      const st = await stat(join(opts.devRoot, r.line)).catch(() => undefined);
      if (st) s.idleSeconds = Math.max(0, Math.floor((now - st.atimeMs) / 1000));
    }
    out.push(s);
  }
  return out;
}
