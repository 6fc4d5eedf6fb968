"""Parses an iCalendar feed with python-icalendar (an independent parser) and prints it as JSON."""
import json
import sys

import icalendar

cal = icalendar.Calendar.from_ical(sys.stdin.read())
out = {"calendar": {k: str(v) for k, v in cal.items()}, "events": []}
for ev in cal.walk("VEVENT"):
    cats = ev.get("categories")
    out["events"].append({
        "uid": str(ev.get("uid")),
        "summary": str(ev.get("summary")),
        "status": str(ev.get("status")),
        "transp": str(ev.get("transp")),
        "description": str(ev.get("description", "")),
        "start": ev.decoded("dtstart").isoformat(),
        "end": ev.decoded("dtend").isoformat(),
        "dtstamp": ev.decoded("dtstamp").isoformat(),
        "categories": [str(c) for c in cats.cats] if cats is not None else [],
        "state": str(ev.get("x-labhog-state", "")),
        "usage": str(ev.get("x-labhog-usage", "")),
    })
print(json.dumps(out))
