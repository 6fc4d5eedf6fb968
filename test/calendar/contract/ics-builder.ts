/**
 * A tiny iCalendar writer for backend tests. Deliberately independent of
 * calendar/ical: the backend contract must not pass or fail because of the
 * mapping code.
 */
export interface TestEvent {
  uid: string;
  start: Date;
  end: Date;
  summary?: string;
  /** e.g. "FREQ=DAILY;COUNT=30" */
  rrule?: string;
  description?: string;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** Escapes TEXT values (RFC 5545 §3.3.11). */
function text(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/;/g, "\\;").replace(/,/g, "\\,").replace(/\n/g, "\\n");
}

/** Folds content lines longer than 75 octets (RFC 5545 §3.1); ASCII input assumed. */
function fold(line: string): string {
  if (line.length <= 75) return line;
  const parts = [line.slice(0, 75)];
  for (let i = 75; i < line.length; i += 74) parts.push(" " + line.slice(i, i + 74));
  return parts.join("\r\n");
}

export function icsEvent(e: TestEvent): string {
  const lines = [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//labhog//backend contract//EN",
    "BEGIN:VEVENT",
    `UID:${e.uid}`,
    `DTSTAMP:${stamp(new Date(Date.UTC(2026, 0, 1)))}`,
    `DTSTART:${stamp(e.start)}`,
    `DTEND:${stamp(e.end)}`,
    `SUMMARY:${text(e.summary ?? e.uid)}`,
  ];
  if (e.rrule) lines.push(`RRULE:${e.rrule}`);
  if (e.description) lines.push(`DESCRIPTION:${text(e.description)}`);
  lines.push("END:VEVENT", "END:VCALENDAR", "");
  return lines.map(fold).join("\r\n");
}

/** A UID unique across test runs (servers may outlive one test). */
export function testUid(label: string): string {
  return `${label}-${crypto.randomUUID()}@labhog.test`;
}

export const hour = 3_600_000;
export const day = 24 * hour;
