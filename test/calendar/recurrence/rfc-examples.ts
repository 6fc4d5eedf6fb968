import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Reads test/fixtures/ics/rfc5545-rrule-examples.txt (the RFC's examples,
 * verbatim) into cases with expected UTC instants. The expectations come
 * from the RFC's "==>" lines only: local dates and times with the EDT/EST
 * label the RFC prints, turned into UTC with the offsets those labels name.
 */

export interface RfcCase {
  title: string;
  /** Property lines for the VEVENT (DTSTART, EXDATE, one RRULE). */
  lines: string[];
  expected: string[];
  /** The RFC lists only the start of an endless series. */
  truncated: boolean;
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const OFFSET: Record<string, number> = { EDT: -4, EST: -5 };

function utcIso(y: number, m: number, d: number, hh: number, mm: number, tz: string): string {
  const off = OFFSET[tz];
  if (off === undefined) throw new Error(`unknown zone label ${tz}`);
  return new Date(Date.UTC(y, m - 1, d, hh - off, mm)).toISOString();
}

function dayList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
    const r = /^(\d+)-(\d+)$/.exec(part);
    if (r) for (let d = Number(r[1]); d <= Number(r[2]); d++) out.push(d);
    else if (/^\d+$/.test(part)) out.push(Number(part));
    else throw new Error(`cannot read day list part "${part}"`);
  }
  return out;
}

function parseResults(text: string, dtstart: { hh: number; mm: number }): string[] {
  const out: string[] = [];
  const group = /\(([^)]*)\)([^(]*)/g;
  for (const g of text.matchAll(group)) {
    const head = g[1]!.trim();
    const body = g[2]!.replace(/\.\.\./g, " ").replace(/\s+/g, " ").trim();
    let m: RegExpExecArray | null;
    if ((m = /^(\d{4}) (\d{1,2}):(\d{2}) (AM|PM) (EDT|EST)$/.exec(head))) {
      const hh = (Number(m[2]) % 12) + (m[4] === "PM" ? 12 : 0);
      for (const mm of body.matchAll(new RegExp(`(${MONTHS.join("|")})\\s+([\\d,\\-\\s]+)`, "g"))) {
        for (const d of dayList(mm[2]!.replace(/\s/g, ""))) out.push(utcIso(Number(m[1]), MONTHS.indexOf(mm[1]!) + 1, d, hh, Number(m[3]), m[5]!));
      }
    } else if ((m = /^(\d{4}) (EDT|EST)$/.exec(head))) {
      for (const mm of body.matchAll(new RegExp(`(${MONTHS.join("|")})\\s+([\\d,\\-\\s]+)`, "g"))) {
        for (const d of dayList(mm[2]!.replace(/\s/g, ""))) out.push(utcIso(Number(m[1]), MONTHS.indexOf(mm[1]!) + 1, d, dtstart.hh, dtstart.mm, m[2]!));
      }
    } else if ((m = new RegExp(`^(${MONTHS.join("|")}) (\\d{1,2}), (\\d{4}) (EDT|EST)$`).exec(head))) {
      for (const t of body.split(/[,;]/).map((x) => x.trim()).filter(Boolean)) {
        const tm = /^(\d{1,2}):(\d{2})$/.exec(t);
        if (!tm) throw new Error(`cannot read time "${t}"`);
        out.push(utcIso(Number(m[3]), MONTHS.indexOf(m[1]!) + 1, Number(m[2]), Number(tm[1]), Number(tm[2]), m[4]!));
      }
    } else {
      throw new Error(`cannot read result header "(${head})"`);
    }
  }
  return out;
}

export function loadRfcCases(): RfcCase[] {
  const path = fileURLToPath(new URL("../../fixtures/ics/rfc5545-rrule-examples.txt", import.meta.url));
  const blocks = readFileSync(path, "utf8").split(/^----$/m).slice(1);
  const cases: RfcCase[] = [];
  for (const block of blocks) {
    const [head, results] = block.split("==>") as [string, string];
    const rawLines = head.split("\n");
    const titleLines: string[] = [];
    const props: string[] = [];
    let inProps = false;
    for (const raw of rawLines) {
      const line = raw.trim();
      if (!line) continue;
      if (/^[A-Z-]+[;:]/.test(line)) {
        inProps = true;
        props.push(line);
      } else if (line === "or") {
        continue;
      } else if (inProps) {
        props[props.length - 1] += line; // the RFC folds long RRULEs onto the next line
      } else {
        titleLines.push(line);
      }
    }
    const title = titleLines.join(" ").replace(/:$/, "");
    const dtstart = props.find((p) => p.startsWith("DTSTART"))!;
    const tm = /T(\d{2})(\d{2})\d{2}$/.exec(dtstart)!;
    const expected = parseResults(results, { hh: Number(tm[1]), mm: Number(tm[2]) });
    const truncated = results.includes("...");
    const rrules = props.filter((p) => p.startsWith("RRULE"));
    const others = props.filter((p) => !p.startsWith("RRULE"));
    rrules.forEach((rr, i) => {
      cases.push({ title: rrules.length > 1 ? `${title} (variant ${i + 1})` : title, lines: [...others, rr], expected, truncated });
    });
  }
  return cases;
}
