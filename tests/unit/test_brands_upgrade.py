"""E7 (#16): upgrading a single-brand deployment with stored data changes nothing for it, and
adding a brands file later leaves the default brand's data where it was. Each test writes Redis
in today's key format, byte for byte as the version before brands did (no new code on the write
side), then reads it through the brand-aware stores: in the default brand's scope (where every
job of a single-brand deployment runs) it is found, and a new brand never sees it."""

from __future__ import annotations

import json

from bridge.adapters import redis_keys as keys
from bridge.domain.brand_scope import scope
from bridge.domain.model import Budget
from tests.factories import ALICE
from tests.fakes import store

BOLT = "bolt"
TEXT = "Your order shipped"


def test_todays_sent_and_echo_marks_are_the_default_brands() -> None:
    st = store()
    digest = keys.digest(TEXT)
    st.client.set(f"zkb:sent:{ALICE}:{digest}", 1)
    st.client.set(f"zkb:echo:{ALICE}:{digest}", repr(1_800_000_000.0))
    assert st.ledger.sent_text_recently(ALICE, TEXT)
    assert st.ledger.echoed_since(ALICE, TEXT, 1_799_999_999.0)
    with scope(BOLT):                       # the same phone, another brand: not its texts
        assert not st.ledger.sent_text_recently(ALICE, TEXT)
        assert not st.ledger.echoed_since(ALICE, TEXT, 0.0)


def test_todays_parked_and_refused_metric_events_are_the_default_brands() -> None:
    st = store()
    event = json.dumps({"unique_id": "zkb-7-Opened Ticket", "metric": "Opened Ticket"})
    st.client.rpush("zkb:metrics:bulk", event)
    st.client.hset("zkb:metrics:failed", "metric:zkb-8-Opened Ticket", event)
    assert st.metric_buffer.waiting() == 1
    assert st.metric_buffer.set_aside_event("metric:zkb-8-Opened Ticket") == event
    with scope(BOLT):
        assert st.metric_buffer.waiting() == 0
        assert st.metric_buffer.set_aside_event("metric:zkb-8-Opened Ticket") is None


def test_todays_support_counts_go_on_from_where_they_were() -> None:
    st = store()
    st.client.sadd("zkb:support:open:42", "7", "8")
    st.client.set("zkb:support:ticket:7", "42")
    st.client.set("zkb:support:ticket:8", "42")
    assert st.support.counts([42]) == [2]
    assert st.support.apply([(8, 42, "closed")]) == [1]
    with scope(BOLT):
        assert st.support.counts([42]) == [0]


def test_todays_klaviyo_budget_windows_stay_the_default_brands() -> None:
    """A full minute of conversation messages written by the old version still counts for the
    default brand; another Klaviyo account has its own limits."""
    st = store()
    budget = Budget("klaviyo-conversation-messages", ((2, 60.0),))
    now = float(st.client.time()[0])
    st.client.zadd("zkb:quota:klaviyo-conversation-messages:60", {"1": now, "2": now})
    assert st.quota.take(budget) > 0
    with scope(BOLT):
        assert st.quota.take(budget) == 0


def test_todays_failed_jobs_and_refs_are_the_default_brands() -> None:
    st = store()
    st.client.hset("zkb:failed", "klaviyo:01JOLD", json.dumps({
        "ref": "klaviyo:01JOLD", "source": "klaviyo", "task": "bridge.inbound_sms",
        "error": "Permanent", "message": "refused", "attempts": 1, "first_failure": 1.0,
        "last_failure": 1.0, "replayable": True}))
    entry = st.outcomes.failed_entry("klaviyo:01JOLD")
    assert entry is not None and entry.get("brand", "default") == "default"
    with scope(BOLT):
        st.outcomes.record_failure("klaviyo@bolt:01JNEW", "bridge.inbound_sms",
                                   RuntimeError("x"), 1, 2.0)
    assert st.outcomes.failed_entry("klaviyo@bolt:01JNEW")["brand"] == BOLT
    assert sorted(st.outcomes.failed()) == ["klaviyo:01JOLD", "klaviyo@bolt:01JNEW"]


def test_todays_profile_cache_and_conversations_keep_their_keys() -> None:
    assert keys.profile("01JALICE") == "zkb:profile:01JALICE"
    assert keys.conversation(ALICE, "+18005550100") == f"zkb:conv:{ALICE}:+18005550100"
    assert keys.event("klaviyo:01J") == "zkb:ev:klaviyo:01J"
    with scope(BOLT):
        assert keys.profile("01JALICE") == "zkb:brand:bolt:profile:01JALICE"
