"""A verified delivery is kept event by event, each event's ref is enqueued once, and the
sender gets 202 (E1). Against a real Redis; what was enqueued is read from the kombu lists."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import redis

from bridge.domain.model import conversation_external_id
from tests.integration.conftest import Receiver
from tests.integration.support import (
    BACKGROUND_QUEUE,
    BRAND,
    CUSTOMER,
    CUSTOMER_EMAIL,
    INTERACTIVE_QUEUE,
    KLAVIYO_QUEUE,
    RECEIVED_SMS,
    ZENDESK_QUEUE,
    event_keys,
    klaviyo_body,
    klaviyo_event,
    klaviyo_headers,
    queued,
    zendesk_event,
    zendesk_headers,
)

PII = (CUSTOMER, CUSTOMER.lstrip("+"), CUSTOMER_EMAIL, "Where is my order")


def deliver_klaviyo(receiver: Receiver, items: list[dict]):  # noqa: ANN201
    body = klaviyo_body(items)
    return receiver.client.post("/webhooks/klaviyo", data=body, headers=klaviyo_headers(body))


def deliver_zendesk(receiver: Receiver, doc: dict):  # noqa: ANN201
    body = json.dumps(doc).encode()
    return receiver.client.post("/webhooks/zendesk", data=body, headers=zendesk_headers(body))


def conversation(r: redis.Redis, customer: str = CUSTOMER, brand: str = BRAND) -> list[str]:
    """Refs waiting in a conversation's queue, in their turn order."""
    members = r.zrange(f"zkb:convq:{customer}|{brand}", 0, -1)
    return [m.decode().split("|", 1)[1] for m in members]


def assert_carries_only_refs(tasks: list, refs: list[str], task: str) -> None:
    assert [t.args for t in tasks] == [[ref] for ref in refs]
    for t in tasks:
        assert t.task == task
        assert t.kwargs == {}
        assert t.headers["argsrepr"] == repr([t.args[0]])
        for value in PII:
            assert value not in t.raw and value not in t.body


def test_a_single_text_is_kept_queued_by_ref_and_placed_in_its_conversation(
        receiver: Receiver, r: redis.Redis) -> None:
    resp = deliver_klaviyo(receiver, [klaviyo_event("01JTEXT1")])

    assert resp.status_code == 202
    assert resp.is_json and resp.json == {"accepted": 1, "queued": 1, "duplicates": 0}
    kept = r.hgetall("zkb:ev:klaviyo:01JTEXT1")
    assert json.loads(kept[b"raw"])["payload"]["id"] == "01JTEXT1"
    assert kept[b"state"] == b"queued"
    assert_carries_only_refs(queued(r, KLAVIYO_QUEUE), ["klaviyo:01JTEXT1"], "bridge.inbound_sms")
    assert r.llen(ZENDESK_QUEUE) == 0
    assert conversation(r) == ["klaviyo:01JTEXT1"]


def test_a_full_delivery_of_1000_texts_is_kept_and_queued_event_by_event_in_send_order(
        receiver: Receiver, r: redis.Redis) -> None:
    customers = [f"+1500555{n:04d}" for n in range(200, 210)]
    items = [klaviyo_event(f"ev{c[-3:]}x{i:03d}", customer=c, sent_at=1764064327.0 + i * 1.5)
             for c in customers for i in range(100)]
    delivered = items[:]
    random.Random(7).shuffle(delivered)   # Klaviyo does not promise order within a delivery

    resp = deliver_klaviyo(receiver, delivered)

    assert resp.status_code == 202
    assert resp.json == {"accepted": 1000, "queued": 1000, "duplicates": 0}
    assert event_keys(r) == sorted(f"zkb:ev:klaviyo:{i['payload']['id']}" for i in items)
    assert all(r.hget(f"zkb:ev:klaviyo:{i['payload']['id']}", "state") == b"queued"
               for i in items)
    tasks = queued(r, KLAVIYO_QUEUE)
    assert_carries_only_refs(tasks, [f"klaviyo:{i['payload']['id']}" for i in delivered],
                             "bridge.inbound_sms")
    assert len(list(r.scan_iter(match="zkb:convq:*"))) == len(customers)
    for customer in customers:
        in_send_order = [f"klaviyo:{i['payload']['id']}" for i in items
                         if i["payload"]["attributes"]["event_properties"]["From Number"]
                         == customer]
        assert conversation(r, customer) == in_send_order


def test_texts_delivered_one_by_one_out_of_order_wait_in_send_order(
        receiver: Receiver, r: redis.Redis) -> None:
    late = klaviyo_event("01JLATE", sent_at=1764064400.0)
    early = klaviyo_event("01JEARLY", sent_at=1764064399.25)
    assert deliver_klaviyo(receiver, [late]).status_code == 202
    assert deliver_klaviyo(receiver, [early]).status_code == 202

    assert conversation(r) == ["klaviyo:01JEARLY", "klaviyo:01JLATE"]


def receipt(event_id: str) -> dict:
    """A `received_sms`: a brand number's SMS reached the customer (From brand, To customer)."""
    return klaviyo_event(event_id, topic=RECEIVED_SMS, customer=BRAND, brand=CUSTOMER)


def test_a_campaign_text_received_by_a_customer_goes_to_its_own_task_and_waits_in_no_conversation(
        receiver: Receiver, r: redis.Redis) -> None:
    r.hset(f"zkb:opensms:{CUSTOMER}", BRAND, "41:open")       # the customer has an SMS ticket
    resp = deliver_klaviyo(receiver, [receipt("01JCAMP")])

    assert resp.status_code == 202
    assert_carries_only_refs(queued(r, BACKGROUND_QUEUE), ["klaviyo:01JCAMP"],
                             "bridge.received_sms")
    assert not list(r.scan_iter(match="zkb:convq:*"))


def test_a_receipt_for_a_customer_without_an_open_sms_ticket_is_kept_as_id_and_outcome_only(
        receiver: Receiver, r: redis.Redis) -> None:
    """E6: no task, no body kept, counted; a repeat is still recognised."""
    for repeat in (0, 1):
        resp = deliver_klaviyo(receiver, [receipt("01JCAMP")])
        assert resp.status_code == 202
        assert resp.json == {"accepted": 1, "queued": 0, "duplicates": repeat}
    assert r.llen(KLAVIYO_QUEUE) == 0 and r.zcard("zkb:unqueued") == 0
    kept = r.hgetall("zkb:ev:klaviyo:01JCAMP")
    assert b"raw" not in kept and kept[b"state"] == b"dropped"
    assert kept[b"reason"] == b"no_open_ticket"
    assert sum(len(k) + len(v) for k, v in kept.items()) <= 200
    assert r.hget("zkb:counters", "received_sms:dropped:receipt_without_ticket") == b"1"


def test_a_zendesk_event_is_kept_and_queued_to_the_zendesk_queue(
        receiver: Receiver, r: redis.Redis) -> None:
    doc = zendesk_event()
    resp = deliver_zendesk(receiver, doc)

    assert resp.status_code == 202
    assert resp.json == {"accepted": 1, "queued": 1, "duplicates": 0}
    ref = f"zendesk:{doc['id']}"
    assert r.hget(f"zkb:ev:{ref}", "state") == b"queued"
    assert_carries_only_refs(queued(r, ZENDESK_QUEUE), [ref], "bridge.zendesk_event")
    assert r.llen(KLAVIYO_QUEUE) == 0


def comment_event(event_id: str, *, public: bool, staff: bool, author: str) -> dict:
    """A `ticket.comment_added` on the SMS ticket of zendesk_event (requester 84473)."""
    doc = zendesk_event(event_id, kind="zen:event-type:ticket.comment_added")
    doc["detail"]["external_id"] = conversation_external_id(CUSTOMER, BRAND)
    doc["event"] = {"comment": {"id": "9001", "body": "Where is my order", "is_public": public,
                                "author": {"id": author, "is_staff": staff, "name": "x"}}}
    return doc


def test_comments_no_rule_could_send_are_kept_as_id_and_outcome_only_and_never_queued(
        receiver: Receiver, r: redis.Redis) -> None:
    """E6, A1/A2: the echo of a customer's text (author = requester), a comment by another
    non-staff user and an internal note need no task; each repeat is still recognised."""
    cases = {"zd-echo": ("customer_comment", dict(public=True, staff=False, author="84473")),
             "zd-cc": ("not_staff", dict(public=True, staff=False, author="555")),
             "zd-note": ("internal_note", dict(public=False, staff=True, author="777"))}
    for repeat in (0, 1):
        for event_id, (_, how) in cases.items():
            resp = deliver_zendesk(receiver, comment_event(event_id, **how))
            assert resp.json == {"accepted": 1, "queued": 0, "duplicates": repeat}
    assert r.llen(INTERACTIVE_QUEUE) == 0 and r.llen(BACKGROUND_QUEUE) == 0
    assert not list(r.scan_iter(match="zkb:convq:*"))       # no reply queue holds them
    for event_id, (reason, _) in cases.items():
        kept = r.hgetall(f"zkb:ev:zendesk:{event_id}")
        assert b"raw" not in kept and kept[b"state"] == b"dropped"
        assert kept[b"reason"] == reason.encode()
        assert sum(len(k) + len(v) for k, v in kept.items()) <= 200
        assert r.hget("zkb:counters", f"agent_reply:dropped:{reason}") == b"1"


def test_a_public_staff_comment_is_queued_as_an_agent_reply(
        receiver: Receiver, r: redis.Redis) -> None:
    resp = deliver_zendesk(receiver, comment_event("zd-agent", public=True, staff=True,
                                                   author="777"))
    assert resp.json == {"accepted": 1, "queued": 1, "duplicates": 0}
    assert_carries_only_refs(queued(r, INTERACTIVE_QUEUE), ["zendesk:zd-agent"],
                             "bridge.zendesk_event")
    assert r.hget("zkb:ev:zendesk:zd-agent", "state") == b"queued"
    assert r.zcard("zkb:convq:reply|5158") == 1          # in its ticket's reply queue (A6)


# --- duplicates and redelivery (E1) ------------------------------------------------------------

def test_the_same_delivery_again_is_acknowledged_as_duplicates_and_enqueues_nothing(
        receiver: Receiver, r: redis.Redis) -> None:
    items = [klaviyo_event(f"01JDUP{i}", sent_at=1764064327.0 + i) for i in range(5)]
    assert deliver_klaviyo(receiver, items).json["queued"] == 5
    doc = zendesk_event()
    assert deliver_zendesk(receiver, doc).json["queued"] == 1

    again = deliver_klaviyo(receiver, items)
    zendesk_again = deliver_zendesk(receiver, doc)

    assert again.status_code == 202
    assert again.json == {"accepted": 5, "queued": 0, "duplicates": 5}
    assert zendesk_again.status_code == 202
    assert zendesk_again.json == {"accepted": 1, "queued": 0, "duplicates": 1}
    assert len(queued(r, KLAVIYO_QUEUE)) == 5
    assert len(queued(r, ZENDESK_QUEUE)) == 1
    assert len(conversation(r)) == 5


def test_an_event_repeated_inside_one_delivery_is_enqueued_once(
        receiver: Receiver, r: redis.Redis) -> None:
    twice = klaviyo_event("01JTWICE")
    resp = deliver_klaviyo(receiver, [twice, klaviyo_event("01JONCE", sent_at=1764064330.0),
                                      twice])

    assert resp.status_code == 202
    assert resp.json == {"accepted": 3, "queued": 2, "duplicates": 1}
    assert [t.args for t in queued(r, KLAVIYO_QUEUE)] == [["klaviyo:01JTWICE"],
                                                          ["klaviyo:01JONCE"]]


def test_an_event_whose_enqueue_was_never_confirmed_is_enqueued_again_on_redelivery(
        receiver: Receiver, r: redis.Redis) -> None:
    items = [klaviyo_event("01JSTUCK"), klaviyo_event("01JFINE", sent_at=1764064330.0)]
    deliver_klaviyo(receiver, items)
    # The receiver died between keeping the event and confirming its enqueue, and the message
    # never reached the list.
    r.hset("zkb:ev:klaviyo:01JSTUCK", "state", "received")
    r.delete(KLAVIYO_QUEUE)

    resp = deliver_klaviyo(receiver, items)

    assert resp.status_code == 202
    assert resp.json == {"accepted": 2, "queued": 1, "duplicates": 2}
    assert [t.args for t in queued(r, KLAVIYO_QUEUE)] == [["klaviyo:01JSTUCK"]]
    assert r.hget("zkb:ev:klaviyo:01JSTUCK", "state") == b"queued"
    assert conversation(r) == ["klaviyo:01JSTUCK", "klaviyo:01JFINE"]   # not placed twice


def test_events_kept_while_the_broker_was_down_are_enqueued_when_the_sender_retries(
        make_receiver: Callable[..., Receiver], r: redis.Redis, closed_port: int) -> None:
    broker_down = make_receiver(broker_url=f"redis://127.0.0.1:{closed_port}/0")
    items = [klaviyo_event("01JRETRY")]

    first = deliver_klaviyo(broker_down, items)
    assert first.status_code == 503 and first.headers["Retry-After"]
    assert r.hget("zkb:ev:klaviyo:01JRETRY", "state") == b"received"

    retried = deliver_klaviyo(make_receiver(), items)

    assert retried.status_code == 202
    assert retried.json == {"accepted": 1, "queued": 1, "duplicates": 1}
    assert [t.args for t in queued(r, KLAVIYO_QUEUE)] == [["klaviyo:01JRETRY"]]
    assert r.hget("zkb:ev:klaviyo:01JRETRY", "state") == b"queued"


# --- Redis that comes back empty (CELERY-NOTES) --------------------------------------------------

def test_a_delivery_after_redis_was_flushed_still_reaches_the_queue(
        receiver: Receiver, r: redis.Redis) -> None:
    assert deliver_klaviyo(receiver, [klaviyo_event("01JBEFORE")]).status_code == 202
    assert deliver_zendesk(receiver, zendesk_event("zd-before")).status_code == 202
    r.flushdb()   # restart without persistence, failover to an empty replica...

    after = deliver_klaviyo(receiver, [klaviyo_event("01JAFTER")])
    zendesk_after = deliver_zendesk(receiver, zendesk_event("zd-after"))

    assert after.status_code == 202 and after.json["queued"] == 1
    assert zendesk_after.status_code == 202 and zendesk_after.json["queued"] == 1
    assert [t.args for t in queued(r, KLAVIYO_QUEUE)] == [["klaviyo:01JAFTER"]]
    assert [t.args for t in queued(r, ZENDESK_QUEUE)] == [["zendesk:zd-after"]]
    assert r.hget("zkb:ev:klaviyo:01JAFTER", "state") == b"queued"


# --- topics the bridge does not use ------------------------------------------------------------

def test_an_unknown_klaviyo_topic_is_acknowledged_kept_and_counted_but_not_enqueued(
        receiver: Receiver, r: redis.Redis) -> None:
    item = klaviyo_event("01JOTHER", topic="event:klaviyo.clicked_sms")
    resp = deliver_klaviyo(receiver, [item])

    assert resp.status_code == 202
    assert resp.json == {"accepted": 1, "queued": 0, "duplicates": 0}
    kept = r.hgetall("zkb:ev:klaviyo:01JOTHER")
    assert b"raw" not in kept                      # E6: no body for a topic never used
    assert kept[b"state"] == b"dropped" and kept[b"reason"] == b"topic_not_used"
    assert sum(len(k) + len(v) for k, v in kept.items()) <= 200
    assert r.llen(KLAVIYO_QUEUE) == 0 and r.llen(ZENDESK_QUEUE) == 0
    assert r.zscore("zkb:unqueued", "klaviyo:01JOTHER") is None   # the sweeper leaves it be
    counters = receiver.store.outcomes.counters()
    assert counters["klaviyo:dropped:topic:event:klaviyo.clicked_sms"] == 1

    again = deliver_klaviyo(receiver, [item])

    assert again.json == {"accepted": 1, "queued": 0, "duplicates": 1}
    assert r.llen(KLAVIYO_QUEUE) == 0
    counters = receiver.store.outcomes.counters()
    assert counters["klaviyo:dropped:topic:event:klaviyo.clicked_sms"] == 1
