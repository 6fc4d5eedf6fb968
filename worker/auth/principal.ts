/** Who is calling. Agents act only on what they serve; users by their groups' rights. */
export type Principal =
  | { kind: "user"; id: string; via: "token" | "jwt" | "access" | "auth-off" }
  | { kind: "agent"; id: string; via: "token" };

export function describe(p: Principal): string {
  return `${p.kind} ${p.id}`;
}
