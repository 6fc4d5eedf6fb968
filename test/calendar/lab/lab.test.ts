import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseLabConfig } from "../../../calendar/config/lab-config.ts";
import { own } from "../../../calendar/config/own.ts";
import { ValidationError } from "../../../calendar/errors.ts";
import { calendarConfigOf, calendarKeyOf, findUserByEmail, groupConfigOf, isAgent, isPool, isResource, isUser, resourceConfigOf, resourcesOf, userConfigOf, usersOf } from "../../../calendar/lab.ts";

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

/** Every name Object.prototype answers to, `__proto__` among them. */
const PROTO_NAMES = [...new Set([...Object.getOwnPropertyNames(Object.prototype), "__proto__"])];
/** Those that are valid ids (letters, digits, '.', '_' or '-', starting with a letter or digit). */
const PROTO_IDS = PROTO_NAMES.filter((n) => /^[A-Za-z0-9]/.test(n));

describe("ids named like Object.prototype members", () => {
  it("the names under test are the ones that matter", () => {
    expect(PROTO_NAMES).toEqual(expect.arrayContaining(["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "__defineGetter__"]));
    expect(PROTO_IDS).toEqual(expect.arrayContaining(["constructor", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString"]));
  });

  it("the yaml package keeps such keys as own properties (they must be checked, not trusted)", () => {
    const doc = parseYaml("constructor: 1\n__proto__: { polluted: true }\ntoString: x\n") as Record<string, unknown>;
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);
    expect(Object.keys(doc)).toEqual(["constructor", "__proto__", "toString"]);
    expect(Object.hasOwn(doc, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  // A lab whose resources, users, groups, pools, agents, calendars and tags are all named like Object.prototype members.
  const protoLab = () => `
site: hq
calendars:
  default: { backend: memory }
  valueOf: { backend: memory }
pools:
  hasOwnProperty: {}
resources:
${PROTO_IDS.map((n) => `  ${n}: { kind: board, pool: hasOwnProperty, agent: isPrototypeOf, owner: constructor, tags: { ${n}: "${n}-tag" } }`).join("\n")}
users:
  constructor: { email: c@example.org, groups: [toString] }
  valueOf: { email: v@example.org, groups: [] }
groups:
  toString: { book: ["*"], admin: ["pool:hasOwnProperty"] }
agents:
  isPrototypeOf: {}
`;

  it("are ordinary ids: present when the file defines them, absent otherwise", () => {
    const lab = parseLabConfig(protoLab());
    expect(Object.keys(lab.resources)).toEqual(PROTO_IDS);
    const rs = resourcesOf(lab);
    const ctor = rs.find((r) => r.id === "constructor")!;
    expect(ctor).toEqual({ id: "constructor", name: "constructor", kind: "board", pool: "hasOwnProperty", agent: "isPrototypeOf", owner: "constructor", calendar: "default", tags: { constructor: "constructor-tag" } });
    expect(own(resourceConfigOf(lab, "valueOf")!.tags, "valueOf")).toBe("valueOf-tag");
    expect(own(resourceConfigOf(lab, "valueOf")!.tags, "toString")).toBeUndefined();
    expect(rs.find((r) => r.id === "valueOf")!.calendar).toBe("valueOf");
    expect(usersOf(lab).map((u) => u.id)).toEqual(["constructor", "valueOf"]);
    expect(userConfigOf(lab, "constructor")?.groups).toEqual(["toString"]);
    expect(groupConfigOf(lab, "toString")?.admin).toEqual(["pool:hasOwnProperty"]);
    for (const n of PROTO_NAMES) {
      expect(isResource(lab, n), n).toBe(PROTO_IDS.includes(n));
      expect(isUser(lab, n), n).toBe(n === "constructor" || n === "valueOf");
      expect(isPool(lab, n), n).toBe(n === "hasOwnProperty");
      expect(isAgent(lab, n), n).toBe(n === "isPrototypeOf");
      expect(groupConfigOf(lab, n), n).toEqual(n === "toString" ? { book: ["*"], admin: ["pool:hasOwnProperty"] } : undefined);
      expect(calendarConfigOf(lab, n), n).toEqual(n === "valueOf" ? { backend: "memory" } : undefined);
    }
  });

  it("names the lab file does not define are absent, whatever lookup is used", () => {
    const lab = parseLabConfig(`
site: hq
resources:
  host1: { tags: { soc: rk3588 } }
`);
    for (const n of PROTO_NAMES) {
      expect(isResource(lab, n), n).toBe(false);
      expect(resourceConfigOf(lab, n), n).toBeUndefined();
      expect(userConfigOf(lab, n), n).toBeUndefined();
      expect(isPool(lab, n), n).toBe(false);
      expect(calendarConfigOf(lab, n), n).toBeUndefined();
      expect(calendarKeyOf(lab, n), n).toBe("default");
      // The records themselves have no prototype: even a plain `in` or index finds nothing.
      expect(n in lab.resources, n).toBe(false);
      expect(lab.users[n], n).toBeUndefined();
      expect(lab.resources.host1!.tags[n], n).toBeUndefined();
    }
    expect(own(lab.resources.host1!.tags, "soc")).toBe("rk3588");
  });

  it.each([
    ["resources", "site: hq\nresources:\n  __proto__: { kind: board }\n  host1: {}\n", "resources.__proto__"],
    ["users", "site: hq\nresources: { host1: {} }\nusers:\n  __proto__: { email: p@example.org }\n", "users.__proto__"],
    ["groups", "site: hq\nresources: { host1: {} }\ngroups:\n  __proto__: { book: ['*'] }\n", "groups.__proto__"],
    ["pools", "site: hq\nresources: { host1: {} }\npools:\n  __proto__: {}\n", "pools.__proto__"],
    ["agents", "site: hq\nresources: { host1: {} }\nagents:\n  __proto__: {}\n", "agents.__proto__"],
    ["calendars", "site: hq\nresources: { host1: {} }\ncalendars:\n  default: { backend: memory }\n  __proto__: { backend: memory }\n", "calendars.__proto__"],
    ["tags", "site: hq\nresources:\n  host1: { tags: { __proto__: x } }\n", "resources.host1.tags.__proto__"],
    ["the top level", "site: hq\nresources: { host1: {} }\n__proto__: { site: other }\n", "__proto__"],
    ["a JSON lab file", '{"site": "hq", "resources": {"__proto__": {"kind": "board"}, "host1": {}}}', "resources.__proto__"],
  ])("a `__proto__` key in %s is refused with a clear message (zod would drop it without a word)", (_where, text, path) => {
    expect(() => parseLabConfig(text)).toThrow(ValidationError);
    expect(() => parseLabConfig(text)).toThrow(`lab config invalid: ${path}: "__proto__" is not allowed as a name`);
  });

  it("the other Object.prototype names that are not ids are refused with the id rule", () => {
    for (const n of PROTO_NAMES.filter((x) => !PROTO_IDS.includes(x) && x !== "__proto__")) {
      expect(() => parseLabConfig(`site: hq\nresources:\n  ${n}: {}\n`), n).toThrow(`lab config invalid: resources.${n}: ids are letters, digits, '.', '_' or '-' (at most 128), starting with a letter or digit`);
      expect(() => parseLabConfig(`site: hq\nresources: { host1: {} }\nusers:\n  ${n}: { email: x@example.org }\n`), n).toThrow(`users.${n}: ids are letters`);
    }
  });

  it("cross-references to names the file does not define are errors, not Object.prototype hits", () => {
    expect(() => parseLabConfig("site: hq\nresources:\n  host1: { pool: constructor }\n")).toThrow('resources.host1.pool: unknown pool "constructor"');
    expect(() => parseLabConfig("site: hq\nresources:\n  host1: { owner: toString }\n")).toThrow('resources.host1.owner: unknown user "toString"');
    expect(() => parseLabConfig("site: hq\nresources:\n  host1: { calendar: valueOf }\n")).toThrow('resources.host1.calendar: unknown calendar "valueOf"');
    expect(() => parseLabConfig("site: hq\nresources:\n  host1: { agent: hasOwnProperty }\nagents:\n  a1: {}\n")).toThrow('resources.host1.agent: unknown agent "hasOwnProperty"');
    expect(() => parseLabConfig("site: hq\nresources: { host1: {} }\nusers:\n  u1: { email: u@example.org, groups: [isPrototypeOf] }\n")).toThrow('users.u1.groups.0: unknown group "isPrototypeOf"');
    // A resource named like a calendar key inherited from Object.prototype still gets the default calendar.
    expect(resourcesOf(parseLabConfig("site: hq\nresources:\n  toString: {}\n"))[0]!.calendar).toBe("default");
  });
});
