import { SELF } from "cloudflare:test";

/** Calls the Worker (worker/index.ts, with the status page, feeds, push and usage routes) in workerd. */
export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  return SELF.fetch(`http://labhog.test${path}`, init);
}
