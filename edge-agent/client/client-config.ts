import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ValidationError } from "../../calendar/errors.ts";

/**
 * Where the CLI finds the Worker and who it is. Environment wins over the
 * file so a CI job can set LABHOG_URL/LABHOG_TOKEN without a file.
 * File: $LABHOG_CONFIG, else ~/.config/labhog/cli.yaml (url, token, tokenFile).
 */
const fileSchema = z.strictObject({
  url: z.url().optional(),
  token: z.string().optional(),
  tokenFile: z.string().optional(),
});

export interface ClientConfig {
  url: string;
  token?: string;
}

export async function loadClientConfig(env: NodeJS.ProcessEnv = process.env): Promise<ClientConfig> {
  const path = env.LABHOG_CONFIG ?? join(env.HOME ?? homedir(), ".config", "labhog", "cli.yaml");
  let file: z.infer<typeof fileSchema> = {};
  try {
    const text = await readFile(path, "utf8");
    const res = fileSchema.safeParse(parseYaml(text) ?? {});
    if (!res.success) throw new ValidationError(`${path}: ${res.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`);
    file = res.data;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT" || env.LABHOG_CONFIG) {
      if (e instanceof ValidationError) throw e;
      throw new ValidationError(`cannot read ${path}: ${(e as Error).message}`);
    }
  }
  const url = env.LABHOG_URL ?? file.url;
  if (!url) throw new ValidationError("no labhog server: set LABHOG_URL or `url:` in ~/.config/labhog/cli.yaml");
  let token = env.LABHOG_TOKEN ?? file.token;
  if (!token && file.tokenFile) token = (await readFile(file.tokenFile, "utf8")).trim();
  return token ? { url: url.replace(/\/+$/, ""), token } : { url: url.replace(/\/+$/, "") };
}
