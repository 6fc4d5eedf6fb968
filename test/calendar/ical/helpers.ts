import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { User } from "../../../calendar/model.ts";

export const users: User[] = [
  { id: "alice", name: "Alice A.", email: "alice@example.org", unix: ["alice"], sshKeys: [], groups: ["lab"] },
  { id: "bob", email: "Bob@Example.org", unix: ["bob"], sshKeys: [], groups: ["lab"] },
  { id: "owner1", email: "lab-owner@example.org", unix: [], sshKeys: [], groups: [] },
];

export function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../../fixtures/ics/${name}`, import.meta.url)), "utf8");
}

export function cal(...events: string[][]): string {
  return ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", ...events.flatMap((e) => ["BEGIN:VEVENT", ...e, "END:VEVENT"]), "END:VCALENDAR", ""].join("\r\n");
}

export const wide = { start: new Date("2026-01-01T00:00:00Z"), end: new Date("2027-06-01T00:00:00Z") };

/** A seeded xorshift32 generator, so every generated case is reproducible. */
export function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    chance: (p: number) => next() < p,
  };
}
