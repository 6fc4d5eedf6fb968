/**
 * CalDAV-only behaviour against a real server (Radicale, Xandikos), in Node
 * and in workerd: no node: imports. `connect` must open a backend on a fresh,
 * empty calendar, passing `extra` through to CaldavBackend.connect.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { CaldavBackend, CaldavOptions } from "../../../calendar/backends/caldav/backend.ts";
import { CalendarAuthError, ConflictError, NotFoundError } from "../../../calendar/errors.ts";
import { clearCredentialRefusals } from "../../../calendar/backends/caldav/transport.ts";
import { icsEvent, testUid, day } from "./ics-builder.ts";
import { truncatingProxy } from "./truncating-fetch.ts";

export interface CaldavSubject {
  backend: CaldavBackend;
  cleanup(): Promise<void>;
}
export type CaldavConnect = (extra: Partial<CaldavOptions>) => Promise<CaldavSubject>;

const t0 = Date.UTC(2030, 0, 1, 9);
const ev = (label: string, summary = label, d = 0) => {
  const uid = testUid(label);
  return { uid, ics: icsEvent({ uid, summary, start: new Date(t0 + d * day), end: new Date(t0 + d * day + 3_600_000) }) };
};

interface Seen { method: string; status: number | "lost"; url: string }

/** Real fetch, recording what went over the wire. */
function recording(inner: typeof fetch = globalThis.fetch) {
  const seen: Seen[] = [];
  const f: typeof fetch = async (input, init) => {
    const url = typeof input === "string" || input instanceof URL ? String(input) : input.url;
    try {
      const res = await inner(input, init);
      seen.push({ method: init?.method ?? "GET", status: res.status, url });
      return res;
    } catch (e) {
      seen.push({ method: init?.method ?? "GET", status: "lost", url });
      throw e;
    }
  };
  return { fetch: f, seen };
}

/**
 * Fault injection in front of the real server: the next request matching
 * `method` is forwarded (when `after`) and then reported as a lost
 * connection, the way workerd reports it, so the client never sees the answer.
 */
function losing() {
  const plan: Array<{ method: string; after: boolean }> = [];
  let injected = 0;
  const f: typeof fetch = async (input, init) => {
    const i = plan.findIndex((p) => p.method === (init?.method ?? "GET"));
    if (i >= 0) {
      const p = plan.splice(i, 1)[0]!;
      injected++;
      if (p.after) await (await globalThis.fetch(input, init)).arrayBuffer();
      throw new Error("Network connection lost.");
    }
    return globalThis.fetch(input, init);
  };
  return { fetch: f, lose: (method: string, after: boolean) => plan.push({ method, after }), get injected() { return injected; } };
}

export function caldavSpecifics(name: string, connect: CaldavConnect, caps: { authenticates: boolean } = { authenticates: true }): void {
  describe(`caldav on ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });
    const open = async (extra: Partial<CaldavOptions> = {}) => {
      const s = await connect({ retry: { baseDelayMs: 10 }, ...extra });
      cleanups.push(s.cleanup);
      return s.backend;
    };

    it("a sync token the real server refuses (corrupted) gives a full resync", async () => {
      const rec = recording();
      const b = await open({ fetch: rec.fetch });
      expect(b.syncMethod).toBe("sync-collection");
      const a = ev("a"); const c = ev("c");
      await b.create(a.uid, a.ics); await b.create(c.uid, c.ics);
      const { token } = await b.sync(null);
      expect(token).toMatch(/^caldav1:s:/);
      const corrupted = token.slice(0, -6) + "000000";
      rec.seen.length = 0;
      const r = await b.sync(corrupted);
      expect(r.full).toBe(true);
      expect(r.changed).toHaveLength(2);
      // The server itself said no to the corrupted token, then answered the full listing.
      const reports = rec.seen.filter((s) => s.method === "REPORT");
      expect(reports[0]!.status).toBeGreaterThanOrEqual(400);
      expect(reports[1]!.status).toBe(207);
      expect(await b.sync(r.token)).toMatchObject({ full: false, changed: [], deleted: [] });
    });

    it("follows truncated (507) sync results to the end — real server behind a truncating test proxy", async () => {
      const proxy = truncatingProxy(globalThis.fetch, 7);
      const b = await open({ fetch: proxy.fetch, multigetBatch: 10 });
      const es = Array.from({ length: 25 }, (_, i) => ev(`t${i}`));
      const made = [];
      for (const e of es) made.push(await b.create(e.uid, e.ics));
      const full = await b.sync(null);
      expect(full.full).toBe(true);
      expect(full.changed.map((o) => o.id).sort()).toEqual(made.map((o) => o.id).sort());
      expect(proxy.truncatedPages).toBe(3); // 25 = 7 + 7 + 7 + 4
      const before = proxy.truncatedPages;
      for (const i of [1, 2]) await b.update(made[i]!.id, icsEvent({ uid: es[i]!.uid, start: new Date(t0), end: new Date(t0 + 7_200_000), summary: "moved" }), made[i]!.etag);
      await b.delete(made[3]!.id, made[3]!.etag);
      const more = Array.from({ length: 12 }, (_, i) => ev(`m${i}`));
      const added = [];
      for (const e of more) added.push(await b.create(e.uid, e.ics));
      const inc = await b.sync(full.token);
      expect(proxy.truncatedPages - before).toBe(2); // 15 changes = 7 + 7 + 1
      expect(inc.full).toBe(false);
      expect(inc.changed.map((o) => o.id).sort()).toEqual([made[1]!.id, made[2]!.id, ...added.map((o) => o.id)].sort());
      expect(inc.deleted).toEqual([made[3]!.id]);
      expect(await b.sync(inc.token)).toMatchObject({ full: false, changed: [], deleted: [] });
    });

    it("a create whose answer was lost after it reached the server succeeds once (If-None-Match makes the resend safe)", async () => {
      const net = losing();
      const b = await open({ fetch: net.fetch });
      const e = ev("lost-create", "mine");
      net.lose("PUT", true);
      const created = await b.create(e.uid, e.ics);
      expect(net.injected).toBe(1);
      expect((await b.get(created.id)).ics).toContain("mine");
      expect((await b.sync(null)).changed).toHaveLength(1);
    });

    it("…but a real conflict behind a lost connection is still a ConflictError", async () => {
      const net = losing();
      const b = await open({ fetch: net.fetch });
      const e = ev("theirs", "theirs");
      await b.create(e.uid, e.ics);
      net.lose("PUT", true);
      await expect(b.create(e.uid, icsEvent({ uid: e.uid, start: new Date(t0), end: new Date(t0 + 3_600_000), summary: "mine" }))).rejects.toBeInstanceOf(ConflictError);
      expect((await b.get((await b.sync(null)).changed[0]!.id)).ics).toContain("theirs");
    });

    it("an update and a delete whose answers were lost succeed (If-Match makes the resend safe)", async () => {
      const net = losing();
      const b = await open({ fetch: net.fetch });
      const e = ev("lost-update", "v1");
      const v1 = await b.create(e.uid, e.ics);
      net.lose("PUT", true);
      const v2 = await b.update(v1.id, icsEvent({ uid: e.uid, start: new Date(t0), end: new Date(t0 + 3_600_000), summary: "v2" }), v1.etag);
      expect(v2.etag).not.toBe(v1.etag);
      expect((await b.get(v1.id)).etag).toBe(v2.etag);
      net.lose("DELETE", true);
      await b.delete(v1.id, v2.etag);
      await expect(b.get(v1.id)).rejects.toBeInstanceOf(NotFoundError);
      expect(net.injected).toBe(2);
    });

    it("a request lost before it reached the server is simply sent again", async () => {
      const net = losing();
      const b = await open({ fetch: net.fetch });
      const e = ev("lost-early");
      net.lose("PUT", false);
      net.lose("REPORT", false);
      const c = await b.create(e.uid, e.ics);
      const r = await b.sync(null);
      expect(r.changed.map((o) => o.id)).toEqual([c.id]);
      expect(net.injected).toBe(2);
    });

    it("a request the server never answers times out and is sent again (stand-in: a fetch that hangs once)", async () => {
      let hang = false;
      let hung = 0;
      const f: typeof fetch = (input, init) => {
        if (hang && (init?.method ?? "GET") === "GET") {
          hang = false;
          hung++;
          return new Promise((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal!.reason), { once: true }));
        }
        return globalThis.fetch(input, init);
      };
      const b = await open({ fetch: f, timeoutMs: 300 });
      const e = ev("hang");
      const c = await b.create(e.uid, e.ics);
      hang = true;
      const started = Date.now();
      expect((await b.get(c.id)).etag).toBe(c.etag);
      expect(hung).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    });

    it("transient answers (503 + Retry-After) are retried; a 404 is not", async () => {
      const rec = recording();
      let busy = 1;
      const f: typeof fetch = async (input, init) => {
        if ((init?.method ?? "GET") === "GET" && busy-- > 0) return new Response("busy", { status: 503, headers: { "Retry-After": "0" } });
        return rec.fetch(input, init);
      };
      const b = await open({ fetch: f });
      const e = ev("busy");
      const c = await b.create(e.uid, e.ics);
      rec.seen.length = 0;
      expect((await b.get(c.id)).etag).toBe(c.etag);
      await b.delete(c.id);
      rec.seen.length = 0;
      await expect(b.get(c.id)).rejects.toBeInstanceOf(NotFoundError);
      expect(rec.seen.filter((s) => s.method === "GET")).toHaveLength(1);
    });

    // Only servers that check credentials have these cases (Xandikos has no authentication at all).
    if (caps.authenticates) it("bad credentials with a large body come out as CalendarAuthError, not as a lost connection", async () => {
      let wrong = false;
      const f: typeof fetch = (input, init) => {
        if (!wrong) return globalThis.fetch(input, init);
        const h = new Headers(init?.headers);
        h.set("Authorization", "Basic " + btoa("labhog:not-the-password"));
        return globalThis.fetch(input, { ...init, headers: h });
      };
      // No cool-down: every call goes to the server, so each one shows the classification.
      const b = await open({ fetch: f, authCooldownMs: 0 });
      wrong = true;
      const uid = testUid("big");
      const big = icsEvent({ uid, start: new Date(t0), end: new Date(t0 + 3_600_000), description: "x".repeat(300_000) });
      for (let i = 0; i < 5; i++) await expect(b.create(`${uid}${i}`, big.replace(uid, `${uid}${i}`))).rejects.toBeInstanceOf(CalendarAuthError);
      wrong = false;
    });

    if (caps.authenticates) it("refused credentials: exactly one request per call, never retried (every method)", async () => {
      // Counts the requests sent with the wrong password (the server's brute-force counter sees each one).
      let wrong = false;
      let sentWrong = 0;
      const f: typeof fetch = (input, init) => {
        if (!wrong) return globalThis.fetch(input, init);
        sentWrong++;
        const h = new Headers(init?.headers);
        h.set("Authorization", "Basic " + btoa("labhog:not-the-password"));
        return globalThis.fetch(input, { ...init, headers: h });
      };
      const b = await open({ fetch: f, authCooldownMs: 0, retry: { attempts: 10, baseDelayMs: 1 } });
      const e = ev("auth"); const made = await b.create(e.uid, e.ics);
      const { token } = await b.sync(null);
      wrong = true;
      const ops: Array<[string, () => Promise<unknown>]> = [
        ["connect", () => open({ fetch: f, authCooldownMs: 0 })],
        ["list", () => b.list({ start: new Date(t0), end: new Date(t0 + day) })],
        ["sync (full)", () => b.sync(null)],
        ["sync (incremental)", () => b.sync(token)],
        ["verify", () => b.verify(new Map([[made.id, made.etag]]))],
        ["get", () => b.get(made.id)],
        ["create", () => { const n = ev("auth-new"); return b.create(n.uid, n.ics); }],
        ["update", () => b.update(made.id, e.ics.replace("SUMMARY:", "SUMMARY:x "), made.etag)],
        ["delete", () => b.delete(made.id, made.etag)],
      ];
      for (const [op, call] of ops) {
        const before = sentWrong;
        const err = await call().then(() => undefined, (x: unknown) => x);
        expect(err, op).toBeInstanceOf(CalendarAuthError);
        expect((err as CalendarAuthError).code).toBe("calendar-credentials-refused");
        expect((err as CalendarAuthError).status).toBe(502);
        expect(sentWrong - before, `${op}: requests sent with refused credentials`).toBe(1);
      }
      wrong = false;
    });

    if (caps.authenticates) it("after a refusal no request goes out with the same credentials during the cool-down, from any backend", async () => {
      let sent = 0;
      const counting: typeof fetch = (input, init) => { sent++; return globalThis.fetch(input, init); };
      try {
        // Really wrong credentials, from the first request on.
        const first = await open({ password: "not-the-password", fetch: counting }).then(() => undefined, (x: unknown) => x);
        expect(first).toBeInstanceOf(CalendarAuthError);
        expect(sent).toBe(1);
        expect((first as Error).message).toMatch(/calendar credentials refused/);
        // The ledger's alarm tries again a minute later, another ledger connects: nothing is sent.
        for (let i = 0; i < 5; i++) {
          const again = await open({ password: "not-the-password", fetch: counting }).then(() => undefined, (x: unknown) => x);
          expect(again).toBeInstanceOf(CalendarAuthError);
          expect((again as CalendarAuthError).retryAfter).toBeGreaterThan(0);
        }
        expect(sent).toBe(1);
        // Other credentials are not held back.
        const good = await open({ fetch: counting });
        expect(good.info.url).toBeTruthy();
        expect(sent).toBeGreaterThan(1);
      } finally {
        clearCredentialRefusals();
      }
    });

    it("verify is cheap when nothing drifted: an etag listing only, no calendar data (both sync methods)", async () => {
      for (const syncMethod of ["sync-collection", "ctag"] as const) {
        const rec = recording();
        const b = await open({ fetch: rec.fetch, syncMethod });
        const made = [];
        for (let i = 0; i < 5; i++) { const e = ev(`cheap${i}`); made.push(await b.create(e.uid, e.ics)); }
        rec.seen.length = 0;
        const v = await b.verify(new Map(made.map((o) => [o.id, o.etag])));
        expect(v).toMatchObject({ changed: [], deleted: [], checked: 5, full: false });
        // sync-collection: one REPORT from the empty token; ctag: PROPFIND of the ctag and of the etags.
        expect(rec.seen.map((x) => x.method), syncMethod).toEqual(syncMethod === "sync-collection" ? ["REPORT"] : ["PROPFIND", "PROPFIND"]);
        expect(v.token).toMatch(syncMethod === "sync-collection" ? /^caldav1:s:/ : /^caldav1:c:/);
      }
    });

    it("an incremental sync fetches no calendar data for the caller's own writes, held at their etag (both sync methods)", async () => {
      for (const syncMethod of ["sync-collection", "ctag"] as const) {
        const rec = recording();
        const b = await open({ fetch: rec.fetch, syncMethod });
        const first = ev(`own0-${syncMethod}`);
        const held = new Map<string, string>();
        const o0 = await b.create(first.uid, first.ics);
        held.set(o0.id, o0.etag);
        const { token } = await b.sync(null);
        for (let i = 1; i <= 3; i++) { const e = ev(`own${i}-${syncMethod}`); const o = await b.create(e.uid, e.ics); held.set(o.id, o.etag); }
        rec.seen.length = 0;
        const r = await b.sync(token, { knownEtag: (id) => held.get(id) });
        expect(r).toMatchObject({ full: false, changed: [], deleted: [] });
        // sync-collection: the change log only, no calendar-multiget; ctag: the ctag and the etag listing.
        expect(rec.seen.map((x) => x.method), syncMethod).toEqual(syncMethod === "sync-collection" ? ["REPORT"] : ["PROPFIND", "PROPFIND"]);
        // Someone else's change among them is fetched, and only it.
        const e = ev(`theirs-${syncMethod}`);
        const theirs = await b.create(e.uid, e.ics);
        rec.seen.length = 0;
        const r2 = await b.sync(r.token, { knownEtag: (id) => held.get(id) });
        expect(r2.changed.map((o) => [o.id, o.etag])).toEqual([[theirs.id, theirs.etag]]);
        expect(rec.seen.filter((x) => x.method === "REPORT")).toHaveLength(syncMethod === "sync-collection" ? 2 : 1);
      }
    });

    it("a write answered without an ETag (the server changed what was sent, RFC 4791 §5.3.4) is taken as the server stored it", async () => {
      // sabre/dav (Nextcloud) leaves the ETag out when it stored something else than the body; later syncs skip
      // objects held at their etag, so the write must learn the stored version now. Stand-in for that answer:
      // the real server's reply to the PUT with its ETag header removed.
      const noEtag: typeof fetch = async (input, init) => {
        const res = await globalThis.fetch(input, init);
        if ((init?.method ?? "GET") !== "PUT") return res;
        const headers = new Headers(res.headers);
        headers.delete("etag");
        return new Response(res.status === 204 ? null : await res.arrayBuffer(), { status: res.status, headers });
      };
      const b = await open({ fetch: noEtag });
      const e = ev("reserialized");
      const made = await b.create(e.uid, e.ics);
      expect(made).toEqual(await b.get(made.id));
      const updated = await b.update(made.id, icsEvent({ uid: e.uid, start: new Date(t0), end: new Date(t0 + 7_200_000), summary: "longer" }), made.etag);
      expect(updated).toEqual(await b.get(made.id));
      expect(updated.ics).toContain("longer");
    });

    it("sync in ctag/etag mode (for servers without sync-collection) finds the same changes", async () => {
      const b = await open({ syncMethod: "ctag" });
      const a = ev("ca"); const d = ev("cd");
      const ca = await b.create(a.uid, a.ics); const cd = await b.create(d.uid, d.ics);
      const full = await b.sync(null);
      expect(full.token).toMatch(/^caldav1:c:/);
      expect(full.changed).toHaveLength(2);
      const quiet = await b.sync(full.token);
      expect(quiet).toMatchObject({ full: false, changed: [], deleted: [] });
      const ca2 = await b.update(ca.id, icsEvent({ uid: a.uid, start: new Date(t0), end: new Date(t0 + 3_600_000), summary: "ctag-changed" }), ca.etag);
      await b.delete(cd.id);
      const inc = await b.sync(quiet.token);
      expect(inc.full).toBe(false);
      expect(inc.changed.map((o) => [o.id, o.etag])).toEqual([[ca.id, ca2.etag]]);
      expect(inc.deleted).toEqual([cd.id]);
    });
  });
}
