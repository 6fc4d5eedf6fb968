import { watch, type FSWatcher } from "node:fs";
import type { Logger } from "../../log.ts";

/**
 * Calls `onChange` (debounced) when one of `paths` changes, through inotify
 * (fs.watch): the kernel wakes the agent on a login or logout instead of a
 * timer waking it to look. utmp is rewritten in place by login/sshd; logind
 * adds and removes a file per session under /run/systemd/sessions. A path
 * that does not exist is skipped (the caller keeps its interval), and a file
 * replaced by a rename is watched again under its name.
 */
export function watchPaths(paths: readonly string[], onChange: () => void, log: Pick<Logger, "debug">, debounceMs = 200): () => void {
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const fire = () => {
    if (timer || stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (!stopped) onChange();
    }, debounceMs);
    timer.unref();
  };
  const arm = (path: string) => {
    if (stopped) return;
    try {
      const w = watch(path, { persistent: false }, (event) => {
        fire();
        // A rename means the name may point at a new file now: watch that one.
        if (event === "rename") {
          w.close();
          watchers.delete(path);
          setTimeout(() => arm(path), debounceMs).unref();
        }
      });
      w.on("error", () => {
        w.close();
        watchers.delete(path);
      });
      watchers.set(path, w);
    } catch (e) {
      log.debug("cannot watch; relying on the interval", { path, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
    }
  };
  for (const p of paths) arm(p);
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const w of watchers.values()) w.close();
    watchers.clear();
  };
}
