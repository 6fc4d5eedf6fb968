"""Lists a calendar's event instances in a window the way a CalDAV client
sees them: python-caldav (Debian python3-caldav) with expand=True, so the
server expands the series (RFC 4791 §9.6.5). If the server can't (Xandikos
answers an expand request with a 5xx), caldav's own client-side expansion
(recurring_ical_events) is used, as caldav itself does when a server returns
unexpanded data. Prints {"how": "server"|"client", "instances": [...]} with
every time in UTC.

With a seventh argument `match`, prints instead the UIDs of the objects the
server itself says have an instance in the window (a time-range
calendar-query, RFC 4791 §9.9: the server evaluates RRULE, EXDATE and
overrides).

usage: caldav-instances.py <server url> <user> <password> <calendar url> <start ISO> <end ISO> [match]
"""
import datetime
import json
import sys

import caldav
from caldav.lib import error


def utc(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            raise SystemExit(f"floating time {v} in a labhog calendar")
        return v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return v.isoformat()


def instances(objects):
    out = []
    for o in objects:
        for ev in o.icalendar_instance.walk("VEVENT"):
            if str(ev.get("status", "")).upper() == "CANCELLED":
                continue
            if ev.get("rrule") is not None or ev.get("exdate") is not None:
                raise SystemExit("an instance still carries RRULE/EXDATE: not expanded")
            rid = ev.get("recurrence-id")
            # caldav's client-side expansion adds a second RECURRENCE-ID to an override: the first is the override's own.
            if isinstance(rid, list):
                rid = rid[0]
            out.append({
                "uid": str(ev.get("uid")),
                "start": utc(ev.decoded("dtstart")),
                "end": utc(ev.decoded("dtend")),
                "recurrenceId": utc(rid.dt) if rid is not None else None,
                "summary": str(ev.get("summary", "")),
            })
    return sorted(out, key=lambda i: (i["start"], i["uid"]))


def main():
    url, user, password, cal_url, start, end = sys.argv[1:7]
    client = caldav.DAVClient(url=url, username=user or None, password=password or None)
    cal = caldav.Calendar(client=client, url=cal_url)
    s = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
    e = datetime.datetime.fromisoformat(end.replace("Z", "+00:00"))
    if len(sys.argv) > 7 and sys.argv[7] == "match":
        objs = cal.date_search(start=s, end=e, expand=False)
        print(json.dumps(sorted({str(ev.get("uid")) for o in objs for ev in o.icalendar_instance.walk("VEVENT")})))
        return
    # Did the server expand (RFC 4791 CALDAV:expand)? Asked once without caldav's fallback, for the record.
    try:
        xml, _ = cal.build_search_xml_query(comp_class=caldav.Event, expand=True, start=s, end=e)
        _, raw = cal._request_report_build_resultlist(xml, caldav.Event)
        how = "client" if any("RRULE" in (o.data or "") for o in raw) else "server"
        objs = cal.date_search(start=s, end=e, expand=True)
    except (error.ReportError, error.DAVError):
        objs = cal.search(start=s, end=e, event=True, expand=False)
        for o in objs:
            o.expand_rrule(s, e)
        how = "client (the server refused expand)"
    print(json.dumps({"how": how, "instances": instances(objs)}))


main()
