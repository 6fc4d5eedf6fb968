"""An independent reading of iCalendar event times, for test/calendar/time.

Reads JSON from stdin: {"cases": [{"name", "ics", "lab", "window": [start, end], "aliases"?}]}
and prints {"name": [[start, end], ...]} with every occurrence of every VEVENT
overlapping the window, as UTC ISO strings. Nothing here comes from labhog:

- python3-icalendar parses the text (properties, parameters, values);
- zoneinfo (the system tz database) resolves TZIDs, floating times and dates
  (floating and DATE values in the lab's zone). A datetime with fold=0 is
  exactly RFC 5545 section 3.3.5: a wall time in a spring gap takes the offset
  from before the gap (it moves forward by the gap's length), a repeated wall
  time is its first pass (PEP 495). python3-icalendar 4.0 would hand back pytz
  zones, whose localize() picks the *second* pass of a repeated hour, so the
  oracle takes the naive wall time and the TZID parameter and attaches zoneinfo
  itself. In-file VTIMEZONEs in the cases carry IANA names and real rules, so
  the oracle reads them from zoneinfo too;
- dateutil.rrule expands RRULEs on the wall clock (DTSTART naive); each
  instance is then read like an explicit DATE-TIME (RFC 5545 section 3.3.10);
- DURATION: python3-icalendar decodes to a timedelta, which cannot tell P1D
  from PT24H, so the oracle reads the text itself (RFC 5545 section 3.3.6):
  weeks and days are added on the wall clock, hours/minutes/seconds as exact
  time, the nominal part first (RFC 8984 section 1.4.6). DTEND gives every
  instance the same exact length (RFC 5545 section 3.8.5.3); a DATE DTEND
  gives days on the wall clock.
"""
import json
import re
import sys
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
from dateutil import rrule

UTC = timezone.utc


def iso(dt):
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_duration(text):
    m = re.fullmatch(r"([+-]?)P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", text.strip())
    if not m:
        raise ValueError(f"bad DURATION {text!r}")
    sign = -1 if m.group(1) == "-" else 1
    w, d, h, mi, s = (int(g or 0) for g in m.groups()[1:])
    return sign * (7 * w + d), sign * (3600 * h + 60 * mi + s)


class Reader:
    def __init__(self, lab, aliases):
        self.lab = ZoneInfo(lab)
        self.aliases = aliases

    def zone(self, prop):
        tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
        if not tzid:
            return None
        tzid = str(tzid)
        return ZoneInfo(self.aliases.get(tzid, tzid))

    def wall(self, prop):
        """(naive wall datetime or date, zone or None for UTC, is_date)."""
        v = prop.dt
        if isinstance(v, datetime):
            if v.tzinfo is not None and v.utcoffset() == timedelta(0) and not prop.params.get("TZID"):
                return v.replace(tzinfo=None), UTC, False
            return v.replace(tzinfo=None), self.zone(prop) or self.lab, False
        if isinstance(v, date):
            return datetime(v.year, v.month, v.day), self.lab, True
        raise ValueError(f"unexpected value {v!r}")

    @staticmethod
    def instant(wall, zone):
        # fold=0: RFC 5545 section 3.3.5 (see the module docstring).
        return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)

    def occurrences(self, ev, raw_duration):
        start_wall, zone, is_date = self.wall(ev["DTSTART"])
        if "DTEND" in ev:
            end_wall, end_zone, end_is_date = self.wall(ev["DTEND"])
            if is_date:
                length = ("days", (end_wall - start_wall).days)
            else:
                length = ("exact", self.instant(end_wall, end_zone) - self.instant(start_wall, zone))
        elif raw_duration is not None:
            length = ("nominal", parse_duration(raw_duration))
        else:
            length = ("days", 1) if is_date else ("exact", timedelta(0))

        walls = [start_wall]
        if "RRULE" in ev:
            rule = ev["RRULE"].to_ical().decode()
            walls = list(rrule.rrulestr(rule, dtstart=start_wall))
            if start_wall not in walls:
                walls.insert(0, start_wall)
        out = []
        for w in walls:
            s = self.instant(w, zone)
            if length[0] == "exact":
                e = s + length[1]
            elif length[0] == "days":
                e = self.instant(w + timedelta(days=length[1]), zone)
            else:
                days, seconds = length[1]
                e = self.instant(w + timedelta(days=days), zone) + timedelta(seconds=seconds)
            out.append((s, e))
        return out


def raw_durations(ics):
    """DURATION text per VEVENT, in order (unfolded lines)."""
    text = re.sub(r"\r?\n[ \t]", "", ics)
    out, cur, inside = [], None, False
    for line in text.splitlines():
        if line == "BEGIN:VEVENT":
            inside, cur = True, None
        elif line == "END:VEVENT":
            out.append(cur)
            inside = False
        elif inside and line.upper().startswith("DURATION"):
            cur = line.split(":", 1)[1]
    return out


def run(case):
    reader = Reader(case["lab"], case.get("aliases") or {})
    ws = datetime.fromisoformat(case["window"][0].replace("Z", "+00:00"))
    we = datetime.fromisoformat(case["window"][1].replace("Z", "+00:00"))
    cal = icalendar.Calendar.from_ical(case["ics"])
    got = []
    for ev, dur in zip(cal.walk("VEVENT"), raw_durations(case["ics"])):
        for s, e in reader.occurrences(ev, dur):
            if s < we and (e > ws or (e == s and s >= ws)):
                got.append([iso(s), iso(e)])
    got.sort()
    return got


def main():
    cases = json.load(sys.stdin)["cases"]
    print(json.dumps({c["name"]: run(c) for c in cases}))


if __name__ == "__main__":
    main()
