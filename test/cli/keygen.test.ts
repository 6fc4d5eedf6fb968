import { execFile } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { signSchedule, verifySchedule } from "../../calendar/schedule/schedule.ts";
import { tempDir } from "../services/process.ts";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "..", "edge-agent", "bin", "labhog.mjs");

it("labhog keygen writes a key pair whose private half signs schedules the public half verifies", async () => {
  const dir = await tempDir("keygen");
  try {
    await run(process.execPath, [BIN, "keygen", "--kid", "lab-2026", "--out", dir]);
    const priv = JSON.parse(await readFile(join(dir, "schedule-signing.private.jwk"), "utf8"));
    const pub = JSON.parse(await readFile(join(dir, "schedule-signing.public.jwk"), "utf8"));
    expect(pub).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: "lab-2026" });
    expect(pub.d).toBeUndefined();
    const now = Date.now();
    const jws = await signSchedule(
      { v: 1, resource: "r1", seq: 1, issuedAt: new Date(now).toISOString(), validUntil: new Date(now + 3_600_000).toISOString(), entries: [] },
      { kid: "lab-2026", jwk: priv },
    );
    expect((await verifySchedule(jws, { keys: { "lab-2026": pub }, resources: ["r1"] })).seq).toBe(1);
    // never overwrites an existing key
    await expect(run(process.execPath, [BIN, "keygen", "--out", dir, "--kid", "lab-2026"])).rejects.toMatchObject({ code: 1 });
    await expect(run(process.execPath, [BIN, "keygen", "--kid", "bad kid"])).rejects.toMatchObject({ code: 2 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
