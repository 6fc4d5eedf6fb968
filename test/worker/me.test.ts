import { beforeAll, expect, it } from "vitest";
import { api, configure } from "./helpers.ts";

beforeAll(async () => {
  await configure({}, { mqtt: false });
});

it("GET /api/v1/me says who the caller is and what they may book and administer", async () => {
  const bob = await api("GET", "/api/v1/me", undefined, "bob");
  expect(bob.status).toBe(200);
  expect(bob.body).toEqual({ kind: "user", id: "bob", via: "token", email: "bob@example.com", book: ["host1", "host2", "b1", "b2", "usb1", "lone"], admin: [] });
  const alice = await api("GET", "/api/v1/me", undefined, "alice");
  expect(alice.body.admin).toContain("secret");
  const agent = await api("GET", "/api/v1/me", undefined, "agent");
  expect(agent.body).toMatchObject({ kind: "agent", id: "host1", book: [] });
  const anon = await api("GET", "/api/v1/me", undefined, null);
  expect(anon.status).toBe(401);
  expect(anon.headers.get("content-type")).toContain("application/problem+json");
});
