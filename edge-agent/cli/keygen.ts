import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generateSigningKey } from "../../calendar/schedule/schedule.ts";
import { UsageError } from "./main.ts";
import { parseOptions, SPECS } from "./spec.ts";

/**
 * labhog keygen [--kid K] [--out DIR]
 *
 * Makes the Ed25519 key pair that signs schedules: the private JWK is the
 * Worker's SCHEDULE_SIGNING_KEY secret, the public JWK goes into every
 * agent's `trustedKeys`. With --out, writes schedule-signing.private.jwk
 * (mode 0600) and schedule-signing.public.jwk there; else prints both.
 */
export async function runKeygen(argv: string[]): Promise<number> {
  let values: { kid?: string; out?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: parseOptions(SPECS.keygen.options), strict: true }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const kid = values.kid ?? `labhog-${new Date().toISOString().slice(0, 10)}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(kid)) throw new UsageError("--kid is letters, digits, '.', '_' or '-' (at most 64)");
  const { privateJwk, publicJwk } = await generateSigningKey(kid);
  if (values.out) {
    const priv = join(values.out, "schedule-signing.private.jwk");
    const pub = join(values.out, "schedule-signing.public.jwk");
    await writeFile(priv, JSON.stringify(privateJwk) + "\n", { mode: 0o600, flag: "wx" });
    await writeFile(pub, JSON.stringify(publicJwk) + "\n", { flag: "wx" });
    process.stdout.write(`wrote ${priv} (the Worker's SCHEDULE_SIGNING_KEY: wrangler secret put SCHEDULE_SIGNING_KEY < ${priv})\nwrote ${pub} (agents: trustedKeys: { ${kid}: { file: ${pub} } })\n`);
  } else {
    process.stdout.write(`# private: the Worker's SCHEDULE_SIGNING_KEY secret\n${JSON.stringify(privateJwk)}\n# public: agents' trustedKeys.${kid}\n${JSON.stringify(publicJwk)}\n`);
  }
  return 0;
}
