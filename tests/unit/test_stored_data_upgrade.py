"""Data written by the version before the layered layout (0.1.0, commit c2ff14e) is read and
applied by this one: keys, field names and JSON shapes did not change (#10).

Each test writes Redis exactly as the old `bridge/store.py` did, byte for byte (no new code on
the write side), then runs today's handler with fakes of the vendors.
"""

from __future__ import annotations

import json

from bridge.domain.model import conversation_external_id
from bridge.domain.sms_rules import Policy
from bridge.handlers.sms_inbound import InboundDeps, handle_inbound
from tests.factories import ALICE, TOLL_FREE, profile, sent_sms
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk, store

NOW = 1_800_000_000.0
EXTERNAL_ID = conversation_external_id(ALICE, TOLL_FREE)
PREPARED = {"phone": ALICE, "brand": TOLL_FREE, "body": "Where is my order?",
            "subject": "SMS from +1••••••0101", "name": "Alice Archer", "email": None}


def old_event(r, ref: str, item: dict, *, seq: int, prepared: dict | None = None) -> None:
    """zkb:ev:<ref> and its place in zkb:convq:<queue>, as the old save script wrote them."""
    queue = f"{ALICE}|{TOLL_FREE}"
    fields = {"raw": json.dumps(item, separators=(",", ":")), "kind": item["topic"],
              "received_at": NOW - 60, "seq": seq, "state": "queued", "queue": queue,
              "score": repr(NOW - 120)}
    if prepared is not None:
        fields["prepared"] = json.dumps(prepared)
    r.hset(f"zkb:ev:{ref}", mapping=fields)
    r.zadd(f"zkb:convq:{queue}", {f"{seq:015d}|{ref}": NOW - 120})


def old_conversation(r, ticket_id: int, requester_id: int, status: str = "open") -> None:
    r.hset(f"zkb:conv:{ALICE}:{TOLL_FREE}", mapping={
        "phone": ALICE, "brand_number": TOLL_FREE, "ticket_id": ticket_id,
        "ticket_status": status, "requester_id": requester_id, "profile_id": "",
        "klaviyo_conversation_id": "", "updated_at": NOW - 300})


def deps_for(st, zendesk: FakeZendesk) -> InboundDeps:
    clock = Clock(NOW)
    return InboundDeps(store=st, zendesk=zendesk, klaviyo=FakeKlaviyo(profile(ALICE)),
                       policy=Policy(), settle_seconds=0, clock=clock, sleep=clock.sleep)


def test_a_text_left_mid_creation_by_the_old_version_makes_no_second_ticket() -> None:
    st, zendesk = store(), FakeZendesk()
    requester = zendesk.add_user("Alice Archer", external_id=f"sms:{ALICE}")
    ticket = {"subject": PREPARED["subject"], "requester_id": requester, "tags": ["sms"],
              "external_id": EXTERNAL_ID,
              "comment": {"body": PREPARED["body"], "public": True, "author_id": requester}}
    made = zendesk.create_ticket(ticket, idempotency_key="zkb-klaviyo:old-1-create")
    item = sent_sms(PREPARED["body"], event_id="old-1")
    old_event(st.client, "klaviyo:old-1", item, seq=1, prepared=PREPARED)
    st.client.set("zkb:intent:klaviyo:old-1", json.dumps(
        {"create": True, "at": NOW - 90, "ticket": ticket, "after": 0, "ticket_id": made.id}))

    assert handle_inbound("klaviyo:old-1", deps_for(st, zendesk)) == "done"

    assert len(zendesk.tickets) == 1
    assert zendesk.comments_on(made.id) == [PREPARED["body"]]
    assert st.conversations.get_conversation(ALICE, TOLL_FREE).ticket_id == made.id
    assert st.events.load_event("klaviyo:old-1")["state"] == "done"


def test_a_comment_the_old_version_wrote_before_dying_is_not_written_again() -> None:
    st, zendesk = store(), FakeZendesk()
    requester = zendesk.add_user("Alice Archer", external_id=f"sms:{ALICE}")
    tid = zendesk.add_ticket(status="open", requester_id=requester, external_id=EXTERNAL_ID,
                             comments=("Hello", PREPARED["body"]))
    old_conversation(st.client, tid, requester)
    item = sent_sms(PREPARED["body"], event_id="old-2")
    old_event(st.client, "klaviyo:old-2", item, seq=2, prepared=PREPARED)
    st.client.set("zkb:intent:klaviyo:old-2", json.dumps({"ticket_id": tid, "at": NOW - 90}))

    assert handle_inbound("klaviyo:old-2", deps_for(st, zendesk)) == "done"

    assert zendesk.comments_on(tid) == ["Hello", PREPARED["body"]]
    assert zendesk.calls["update_ticket"] == 0
    stored = json.loads(st.client.get("zkb:intent:klaviyo:old-2"))
    assert stored["ticket_id"] == tid and stored["comment_id"]


def test_an_old_conversation_cache_and_queue_take_the_next_text_in_order() -> None:
    st, zendesk = store(), FakeZendesk()
    requester = zendesk.add_user("Alice Archer", external_id=f"sms:{ALICE}")
    tid = zendesk.add_ticket(status="solved", requester_id=requester, external_id=EXTERNAL_ID)
    old_conversation(st.client, tid, requester, status="solved")
    old_event(st.client, "klaviyo:old-3", sent_sms("first", event_id="old-3"), seq=3)
    old_event(st.client, "klaviyo:old-4", sent_sms("second", event_id="old-4"), seq=4)

    assert handle_inbound("klaviyo:old-4", deps_for(st, zendesk)) == "done"

    assert zendesk.comments_on(tid) == ["first", "second"]
    assert zendesk.tickets[tid]["status"] == "open"          # S4: a solved ticket reopens
    assert len(zendesk.tickets) == 1
