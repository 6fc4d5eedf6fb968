import { describe, expect, it } from "vitest";
import { parseLabConfig } from "../../../calendar/config/lab-config.ts";
import { findUserByEmail, resourcesOf, usersOf } from "../../../calendar/lab.ts";

const cfg = parseLabConfig(`
site: hq
timezone: Europe/Berlin
calendars:
  default: { backend: memory }
  gpu: { backend: memory }
pools:
  boards: {}
resources:
  rk3588-1: { kind: board, pool: boards, tags: { soc: rk3588 }, owner: alice }
  gpu: { kind: host, agent: gpu-host }
users:
  alice: { email: Alice@Example.org, unix: alice, sshKeys: ["ssh-ed25519 AAAA alice@x"], groups: [lab] }
  bob: { name: Bob, email: bob@example.org, unix: [bob, bob2] }
groups:
  lab: { book: ["*"] }
`);

describe("lab helpers", () => {
  it("resources with their calendars resolved", () => {
    expect(resourcesOf(cfg)).toEqual([
      { id: "rk3588-1", name: "rk3588-1", kind: "board", pool: "boards", tags: { soc: "rk3588" }, calendar: "default", owner: "alice" },
      { id: "gpu", name: "gpu", kind: "host", tags: {}, agent: "gpu-host", calendar: "gpu" },
    ]);
  });
  it("users with unix logins as lists", () => {
    expect(usersOf(cfg)).toEqual([
      { id: "alice", email: "Alice@Example.org", unix: ["alice"], sshKeys: ["ssh-ed25519 AAAA alice@x"], groups: ["lab"] },
      { id: "bob", name: "Bob", email: "bob@example.org", unix: ["bob", "bob2"], sshKeys: [], groups: [] },
    ]);
  });
  it("finds users by e-mail, case-insensitively, with or without mailto:", () => {
    const us = usersOf(cfg);
    expect(findUserByEmail(us, "alice@example.org")?.id).toBe("alice");
    expect(findUserByEmail(us, "MAILTO:ALICE@EXAMPLE.ORG")?.id).toBe("alice");
    expect(findUserByEmail(us, " bob@example.org ")?.id).toBe("bob");
    expect(findUserByEmail(us, "carol@example.org")).toBeUndefined();
    expect(findUserByEmail(us, "")).toBeUndefined();
  });
});
