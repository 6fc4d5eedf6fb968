import { setFlagsFromString } from "node:v8";

/**
 * V8 flags the agent sets for itself when `labhog agent` starts, so they hold
 * however it was started (the systemd unit, `npm start`'s demo, the tarball, a
 * single scp'd file, the tests) and nothing can forget them.
 *
 * The agent is a daemon that sits idle for hours and then does a few
 * milliseconds of work (verify a signed schedule, apply it); its time goes to
 * the processes it runs (sshd, mount), not to JavaScript. An optimizing JIT
 * buys it nothing, and costs memory for as long as the process lives:
 *
 *   --no-opt             no TurboFan: its compiled code, its zones and the
 *                        pages of Node's binary holding the compiler are never
 *                        touched (about 7 MiB of RSS, measured by bench/agent.ts)
 *   --no-sparkplug       no baseline machine code beside the bytecode (about
 *                        1.5 MiB); the interpreter is fast enough for this work
 *   --optimize-for-size  V8's memory-over-speed choices: smaller heap growth
 *                        steps, so the old generation stays near what is live
 *   --semi-space-growth-factor=1
 *                        the young generation keeps its start size: a burst of
 *                        work (a schedule arrives, the hog applies it) would
 *                        otherwise grow it to 16 MiB, kept for the rest of the
 *                        process's life (5 MiB more RSS when idle, measured).
 *                        Same effect as NODE_OPTIONS=--max-semi-space-size=1,
 *                        which only a flag given before the heap exists can set.
 *
 * Set at run time (node:v8 setFlagsFromString), before the config is parsed
 * and anything hot runs: the compiler flags apply to code compiled afterwards,
 * the heap flags at the next collection. No NODE_OPTIONS needed anywhere.
 */
export const AGENT_V8_FLAGS = ["--no-opt", "--no-sparkplug", "--optimize-for-size", "--semi-space-growth-factor=1"] as const;

export function tuneV8ForDaemon(): void {
  for (const flag of AGENT_V8_FLAGS) setFlagsFromString(flag);
}
