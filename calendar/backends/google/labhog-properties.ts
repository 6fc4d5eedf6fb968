/**
 * labhog's own iCalendar properties (X-LABHOG-*) live in a Google event's
 * extendedProperties.private under the property name, e.g.
 * `{"X-LABHOG-HOLDER": "alice"}`. The value is kept as the raw iCalendar
 * value text (whatever escaping its writer used), so ICS → Google → ICS gives
 * back the very same bytes; only a line break, which no content line can
 * hold, is escaped on the way out.
 */
export const LABHOG_PREFIX = "X-LABHOG-";

export function isLabhogProperty(name: string): boolean {
  return name.toUpperCase().startsWith(LABHOG_PREFIX);
}

export function rawValueForIcs(value: string): string {
  return value.replace(/\r\n|\r|\n/g, "\\n");
}
