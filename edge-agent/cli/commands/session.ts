import { ApiClient } from "../../client/api-client.ts";
import { loadClientConfig } from "../../client/client-config.ts";

/** The API client for the configured server (LABHOG_URL / LABHOG_TOKEN or the CLI config file). */
export async function client(): Promise<ApiClient> {
  return new ApiClient(await loadClientConfig());
}

export function print(json: boolean | undefined, value: unknown, human: () => string): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : human()) + "\n");
}
