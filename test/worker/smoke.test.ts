import { SELF, env } from "cloudflare:test";
import { it, expect } from "vitest";

it("the worker answers and test services are bound", async () => {
  const r = await SELF.fetch("http://x/");
  expect(r.status).toBeLessThan(500);
  expect((env as unknown as Record<string, string>).TEST_RADICALE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
});
