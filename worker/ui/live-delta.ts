/**
 * What a status page viewer has to be sent: only the live regions (the
 * elements marked `data-live`: a resource's info, its week, the summary, the
 * pools' axes) that changed since the board version the viewer holds.
 *
 * The board is rendered whole, cut into its regions, and each region hashed.
 * The version is a hash of all of them; this isolate remembers the region
 * hashes of the last few versions, so `?since=<version>` can be answered
 * with the regions whose hash differs. A version it does not remember (too
 * old, or seen by another isolate) gets the whole board: a viewer can never
 * miss a change, it only pays more.
 *
 * What moves by the clock alone is left out of the hashes, so a viewer is
 * not sent every row each minute: the now-line of each week (its place comes
 * from the summary's `data-now`) and the "… ago" texts (`<time data-ago>`,
 * recomputed in the page from the summary's time). The page's script does
 * both after every poll (refresh-script.ts).
 */

export interface Region {
  id: string;
  html: string;
}

/**
 * The top-level `data-live` elements of a board, in order. The board is our
 * own rendering (hono/jsx escapes every `<` in text and attributes), so
 * counting the region's tag name finds its end.
 */
export function regionsOf(html: string): Region[] {
  const out: Region[] = [];
  const open = /<([a-z][a-z0-9]*)\b[^>]*?\sid="([^"]+)"[^>]*?\sdata-live\b[^>]*>/g;
  let m: RegExpExecArray | null;
  while ((m = open.exec(html))) {
    const tag = m[1]!;
    const start = m.index;
    const tags = new RegExp(`<(/?)${tag}\\b[^>]*>`, "g");
    tags.lastIndex = start + m[0].length;
    let depth = 1;
    let t: RegExpExecArray | null;
    while (depth > 0 && (t = tags.exec(html))) depth += t[1] ? -1 : 1;
    if (depth > 0) throw new Error(`live region ${m[2]} is not closed`);
    out.push({ id: m[2]!, html: html.slice(start, tags.lastIndex) });
    open.lastIndex = tags.lastIndex;
  }
  return out;
}

/** A region as far as a change matters: without the now-line's place and the "… ago" texts. */
export function clockFree(html: string): string {
  return html.replace(/<span class="now"[^>]*>/g, '<span class="now">').replace(/(<time data-ago\b[^>]*>)[^<]*<\/time>/g, "$1</time>");
}

/** 32-bit FNV-1a, hex: tells regions apart; not a security boundary (the version is only a cache key). */
function fnv(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

export interface BoardVersion {
  version: string;
  hashes: Map<string, string>;
}

/** The version of a board and the hash of each region. */
export async function versionOf(regions: Region[]): Promise<BoardVersion> {
  const hashes = new Map(regions.map((r) => [r.id, fnv(clockFree(r.html))]));
  const all = [...hashes].map(([id, h]) => `${id}=${h}`).join("\n");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(all)));
  return { version: [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""), hashes };
}

/** The region hashes of the last few versions this isolate served (viewers of one lab mostly share them). */
export class VersionMemory {
  #versions = new Map<string, Map<string, string>>();
  constructor(private readonly keep = 32) {}

  remember(v: BoardVersion): void {
    this.#versions.delete(v.version);
    this.#versions.set(v.version, v.hashes);
    while (this.#versions.size > this.keep) this.#versions.delete(this.#versions.keys().next().value!);
  }

  /** The regions of `now` that differ from version `since`; undefined when `since` is unknown or the set of regions changed (then the whole board). */
  changedSince(since: string, now: BoardVersion, regions: Region[]): Region[] | undefined {
    const old = this.#versions.get(since);
    if (!old || old.size !== now.hashes.size) return undefined;
    for (const id of now.hashes.keys()) if (!old.has(id)) return undefined;
    return regions.filter((r) => old.get(r.id) !== now.hashes.get(r.id));
  }
}
