import type { FC } from "hono/jsx";
import type { Notice } from "../notices/model.ts";
import { fmtWhen } from "./time.ts";

/**
 * The notices standing on a resource, as a banner at the top of its row.
 * Ended ones are hidden even if the ledger has not pruned them yet (a page
 * rendered from a cache a minute old must not show an expired notice).
 */
export const NoticeBanner: FC<{ notices: readonly Notice[]; tz: string; now: number }> = ({ notices, tz, now }) => {
  const standing = notices.filter((n) => Date.parse(n.until) > now);
  if (!standing.length) return null;
  return (
    <div class="notices">
      {standing.map((n) => (
        <p class="notice-banner" role="note" data-notice={n.id}>
          <span class="k">notice</span> {n.text}{" "}
          <span class="notice-meta">
            — {n.by}, until <time datetime={n.until}>{fmtWhen(tz, Date.parse(n.until), now)}</time>
          </span>
        </p>
      ))}
    </div>
  );
};

/** Its styles, appended to the page's (kept here so the page's stylesheet stays untouched). */
export const NOTICE_STYLES = `.notice-banner{margin:4px 0;padding:4px 8px;border-left:4px solid var(--warn);background:var(--grid);font-size:13px;font-weight:600;color:var(--fg)}.notice-banner .k{font-size:10px;text-transform:uppercase;font-weight:700;color:var(--fg);letter-spacing:.05em;margin-right:4px}.notice-banner .notice-meta{font-weight:400}`;
