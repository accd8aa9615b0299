"""What the agent desk flags on a ticket: an opt-out request (S10) and a held reply (A8, S10).

The desk knows only what an agent in real Zendesk sees: the ticket's tags and its comments. It
never reads the bridge's Redis. So it reads the situation the way an agent would:

- "Opt-out request": the ticket carries the tag `sms_optout_request` (S10, added by the bridge
  in the same write as the customer's text).
- "Reply held": the latest internal note in which the bridge says it held a reply (recognised
  by its wording, below) still applies. A quiet-hours note (A8) applies until the time it names
  has passed or the ticket carries `sms_send_now`; an opt-out note (S10) while the ticket still
  carries `sms_optout_request`. (A reply whose customer was unsubscribed in Klaviyo meanwhile is
  not sent either; the tag stays, so the flag stays until an agent clears it.)

The wording is the bridge's (bridge/domain/reply_holds.py); the sandbox shares no code with the
bridge, so tests/sandbox/test_desk_flags.py checks these patterns against the bridge's own
notes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sandbox.zendesk.model import Comment, Ticket

NOTE_PREFIX = "[zkbridge] "
OPT_OUT_REQUEST_TAG = "sms_optout_request"
SEND_NOW_TAG = "sms_send_now"
QUIET_HOURS = "quiet_hours"
OPT_OUT_REQUEST = "opt_out_request"

# "This reply will be sent as an SMS at 08:00 on Wed 26 Nov (America/New_York), the customer's
# local time: it was written during quiet hours (21:00-08:00, rule A8). ..."
QUIET_NOTE = re.compile(r"This reply will be sent as an SMS at (?P<when>(?P<h>\d{2}):(?P<m>\d{2}) "
                        r"on \w{3} (?P<day>\d{1,2}) (?P<mon>\w{3}) \((?P<zone>[^)]+)\)), the "
                        r"customer's local time: it was written during quiet hours")
OPT_OUT_NOTE = "This reply is held, not sent: the customer asked us to stop texting them"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def hold_reason(c: Comment) -> str | None:
    """QUIET_HOURS or OPT_OUT_REQUEST when `c` is the bridge's note that it held a reply."""
    if c.public or not c.body.startswith(NOTE_PREFIX):
        return None
    if QUIET_NOTE.search(c.body):
        return QUIET_HOURS
    if OPT_OUT_NOTE in c.body:
        return OPT_OUT_REQUEST
    return None


def quiet_until(c: Comment) -> float | None:
    """When a quiet-hours note says the reply goes out (epoch), or None if it names no time
    the sandbox can read. The note gives no year: the first such date from the note's day on."""
    m = QUIET_NOTE.search(c.body)
    if m is None or m["mon"] not in MONTHS:
        return None
    try:
        zone = ZoneInfo(m["zone"])
    except (ZoneInfoNotFoundError, ValueError):
        return None
    written = datetime.fromtimestamp(c.created_at, UTC).astimezone(zone)
    for year in (written.year, written.year + 1):
        try:
            at = datetime(year, MONTHS.index(m["mon"]) + 1, int(m["day"]), int(m["h"]),
                          int(m["m"]), tzinfo=zone)
        except ValueError:          # 29 Feb in a year without one
            continue
        if at.date() >= written.date():
            return at.timestamp()
    return None


def held_reply(ticket: Ticket, now: float) -> dict[str, Any] | None:
    """The reply hold the ticket's latest hold note announces, if it still applies."""
    notes = [(c, r) for c in ticket.comments if (r := hold_reason(c))]
    if not notes:
        return None
    note, reason = notes[-1]
    tags = {t.lower() for t in ticket.tags}
    if reason == OPT_OUT_REQUEST:
        if OPT_OUT_REQUEST_TAG not in tags:
            return None
        return {"reason": reason, "note_id": note.id, "until": None,
                "release": {"remove": OPT_OUT_REQUEST_TAG}}
    until = quiet_until(note)
    if SEND_NOW_TAG in tags or (until is not None and until <= now):
        return None
    match = QUIET_NOTE.search(note.body)
    return {"reason": reason, "note_id": note.id, "until": match["when"] if match else None,
            "release": {"add": SEND_NOW_TAG}}


def desk_flags(ticket: Ticket, now: float) -> dict[str, Any]:
    """The desk's flags for `ticket` at `now` (epoch, the bridge's clock: real time)."""
    return {"opt_out_request": OPT_OUT_REQUEST_TAG in {t.lower() for t in ticket.tags},
            "reply_held": held_reply(ticket, now),
            "hold_note_ids": [c.id for c in ticket.comments if hold_reason(c)]}
