"""The desk's flags (A8, S10: sandbox/zendesk/desk_flags.py) read the bridge's own notes.

The sandbox shares no code with the bridge, so it recognises a held reply by the wording of the
bridge's notes: these tests feed it the notes `bridge.domain.reply_holds` writes, so a change of
wording there that the desk would no longer recognise fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.domain import quiet_hours, reply_holds
from bridge.domain.opt_out import OPT_OUT_REQUEST_TAG
from bridge.domain.sms_rules import opt_out_request_note
from sandbox.zendesk.desk_flags import desk_flags
from sandbox.zendesk.model import Comment, Ticket

WRITTEN = datetime(2026, 11, 25, 22, 30, tzinfo=UTC).timestamp()
WINDOW_END = datetime(2026, 11, 26, 8, 0, tzinfo=UTC).timestamp()
AGENT, BRIDGE = 9001, 9000


def comment(cid: int, body: str, *, public: bool = False, author: int = BRIDGE) -> Comment:
    return Comment(id=cid, author_id=author, body=body, html_body=body, public=public,
                   channel="api", created_at=WRITTEN)


def ticket(*comments: Comment, tags: tuple[str, ...] = ("sms",)) -> Ticket:
    return Ticket(id=7, subject="SMS from +1", description="", status="open", requester_id=1,
                  submitter_id=1, via={"channel": "api"}, created_at=WRITTEN,
                  updated_at=WRITTEN, tags=list(tags), comments=list(comments))


def quiet_note(zone: str = "UTC") -> str:
    return reply_holds.quiet_hours_note(quiet_hours.local_time(WINDOW_END, zone), "21:00-08:00")


def test_a8_a_quiet_hours_note_flags_the_reply_held_until_the_time_it_names() -> None:
    t = ticket(comment(1, "Shipped today.", public=True, author=AGENT), comment(2, quiet_note()))
    flags = desk_flags(t, now=WRITTEN + 60)
    assert flags["reply_held"] == {"reason": "quiet_hours", "note_id": 2,
                                   "until": "08:00 on Thu 26 Nov (UTC)",
                                   "release": {"add": reply_holds.SEND_NOW_TAG}}
    assert flags["hold_note_ids"] == [2] and flags["opt_out_request"] is False
    assert desk_flags(t, now=WINDOW_END + 1)["reply_held"] is None


def test_a8_the_time_is_read_in_the_zone_the_note_names_and_across_a_new_year() -> None:
    end = datetime(2027, 1, 1, 13, 0, tzinfo=UTC).timestamp()      # 08:00 in New York
    note = reply_holds.quiet_hours_note(quiet_hours.local_time(end, "America/New_York"),
                                        "21:00-08:00")
    t = ticket(Comment(id=2, author_id=BRIDGE, body=note, html_body=note, public=False,
                       channel="api", created_at=end - 9 * 3600))
    assert desk_flags(t, now=end - 1)["reply_held"]["reason"] == "quiet_hours"
    assert desk_flags(t, now=end + 1)["reply_held"] is None


def test_a8_the_send_now_tag_ends_the_flag() -> None:
    t = ticket(comment(2, quiet_note()), tags=("sms", reply_holds.SEND_NOW_TAG))
    assert desk_flags(t, now=WRITTEN + 60)["reply_held"] is None


def test_s10_an_opt_out_hold_note_flags_the_reply_held_while_the_request_tag_stays() -> None:
    held = ticket(comment(1, opt_out_request_note()), comment(2, reply_holds.opt_out_hold_note()),
                  tags=("sms", OPT_OUT_REQUEST_TAG))
    flags = desk_flags(held, now=WRITTEN)
    assert flags["opt_out_request"] is True
    assert flags["reply_held"] == {"reason": "opt_out_request", "note_id": 2, "until": None,
                                   "release": {"remove": OPT_OUT_REQUEST_TAG}}
    assert flags["hold_note_ids"] == [2]          # the request's own note is no hold
    cleared = ticket(*held.comments, tags=("sms",))
    assert desk_flags(cleared, now=WRITTEN) == {"opt_out_request": False, "reply_held": None,
                                                "hold_note_ids": [2]}


def test_a_request_tag_without_a_held_reply_is_only_an_opt_out_request() -> None:
    t = ticket(comment(1, opt_out_request_note()), tags=("sms", OPT_OUT_REQUEST_TAG))
    assert desk_flags(t, now=WRITTEN) == {"opt_out_request": True, "reply_held": None,
                                          "hold_note_ids": []}


def test_the_latest_hold_note_decides_and_an_agents_copy_of_the_wording_is_no_hold() -> None:
    t = ticket(comment(2, quiet_note()), comment(3, reply_holds.opt_out_hold_note()),
               comment(4, reply_holds.opt_out_hold_note(), public=True, author=AGENT),
               tags=("sms", OPT_OUT_REQUEST_TAG))
    assert desk_flags(t, now=WRITTEN + 60)["reply_held"]["reason"] == "opt_out_request"
    assert desk_flags(t, now=WRITTEN + 60)["hold_note_ids"] == [2, 3]
