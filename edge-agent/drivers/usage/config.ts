import { z } from "zod";
import { extraCollectorSchema } from "./extra.ts";

/** What the usage snapshot looks at (the agent's own file). */
export const usageConfigSchema = z.strictObject({
  utmp: z.string().default("/var/run/utmp"),
  /** ttys in utmp are relative to this (idle time is a tty's atime). */
  devRoot: z.string().default("/dev"),
  procRoot: z.string().default("/proc"),
  passwd: z.string().default("/etc/passwd"),
  /** Per-user load covers uids from here up (system daemons are noise)… */
  minUid: z.number().int().nonnegative().default(1000),
  /** …and root, if asked (work done under sudo). */
  includeRoot: z.boolean().default(false),
  clockTicks: z.number().int().positive().default(100),
  /** logind's directory of sessions, watched like utmp where it exists. */
  sessionsDir: z.string().default("/run/systemd/sessions"),
  /** How often to look while someone is logged in or a user's process runs (per-user load can only be sampled)… */
  intervalMs: z.number().int().min(50).default(15_000),
  /** …and while nobody is: a login is seen at once anyway, through utmp and logind changes. */
  idleIntervalMs: z.number().int().min(50).default(60_000),
  /** Send an unchanged snapshot this often anyway, so the Worker knows the agent is alive. */
  heartbeatMs: z.number().int().min(100).default(300_000),
  collectors: z.array(extraCollectorSchema).default([]),
});

export type UsageConfig = z.infer<typeof usageConfigSchema>;
export type UsageConfigInput = z.input<typeof usageConfigSchema>;
