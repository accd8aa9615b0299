"""The shared budget never grants more than a window's limit within any span of its length,
and grants nothing partially (E3). Runs the real Lua script on fakeredis."""

from __future__ import annotations

import time

import fakeredis

from bridge.adapters.quota import GUARD_SECONDS, Quota
from bridge.domain.model import Budget


def test_a_window_grants_its_limit_then_says_how_long_to_wait() -> None:
    quota = Quota(fakeredis.FakeRedis())
    budget = Budget("b", ((3, 60.0),))
    assert [quota.take(budget) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = quota.take(budget)
    assert 59.0 < wait <= 60.01 + GUARD_SECONDS   # each window is a little longer (latency)


def test_per_minute_keeps_one_call_in_hand_and_honours_the_second_window() -> None:
    budget = Budget.per_minute("conv", 60, per_second=3)
    assert budget.windows == ((3, 1.0), (59, 60.0))
    quota = Quota(fakeredis.FakeRedis())
    grants = [quota.take(budget) for _ in range(4)]
    assert grants[:3] == [0.0, 0.0, 0.0]
    assert 0.0 < grants[3] <= 1.01 + GUARD_SECONDS


def test_several_budgets_are_taken_together_or_not_at_all() -> None:
    quota = Quota(fakeredis.FakeRedis())
    roomy = Budget("roomy", ((100, 60.0),))
    tight = Budget("tight", ((1, 60.0),))
    assert quota.take(roomy, tight) == 0.0
    assert quota.take(roomy, tight) > 0.0       # tight is spent...
    assert all(quota.take(roomy) == 0.0 for _ in range(99))   # ...and roomy lost nothing
    assert quota.take(roomy) > 0.0


def test_a_refunded_grant_is_a_call_the_window_can_grant_again() -> None:
    quota = Quota(fakeredis.FakeRedis())
    messages = Budget.per_minute("messages", 3, per_second=3)    # 2/min kept, 3/s
    wait, first = quota.grant(messages)
    assert wait == 0.0 and first
    assert quota.grant(messages)[0] == 0.0
    assert quota.take(messages) > 0.0             # the minute's two calls are granted
    quota.refund(first, messages)                 # the first was never made
    assert quota.take(messages) == 0.0
    assert quota.take(messages) > 0.0


def _score(r: fakeredis.FakeRedis, key: str, member: str) -> float:
    score = r.zscore(key, member)
    assert score is not None, f"{member} is not in {key}"
    return float(score)


def test_a_confirmed_grant_carries_the_time_of_its_call() -> None:
    r = fakeredis.FakeRedis()
    quota = Quota(r)
    budget = Budget("b", ((2, 60.0),))
    _, grant = quota.grant(budget)
    assert grant is not None
    granted_at = _score(r, "zkb:quota:b:60", grant)
    time.sleep(0.2)
    assert quota.confirm(grant, budget) == 0.0
    assert _score(r, "zkb:quota:b:60", grant) >= granted_at + 0.2
    assert r.zcard("zkb:quota:b:60") == 1      # moved, not added


def test_a_grant_whose_window_filled_before_its_call_is_given_up_on_confirm() -> None:
    r = fakeredis.FakeRedis()
    quota = Quota(r)
    budget = Budget("b", ((1, 0.2),))
    _, slow = quota.grant(budget)
    assert slow is not None
    time.sleep(0.2 + GUARD_SECONDS + 0.05)     # its grant left the window...
    _, fast = quota.grant(budget)              # ...and another call took the room
    assert fast is not None
    assert quota.confirm(slow, budget) > 0.0
    assert [m.decode() for m in r.zrange("zkb:quota:b:0.2", 0, -1)] == [fast]


def test_a_reservation_met_after_a_late_confirm_waits_for_that_call_to_leave_the_window() -> None:
    """The slot was computed from the grant's time; the call went out later, so the slot
    moves by as much (no two calls closer than the window)."""
    r = fakeredis.FakeRedis()
    quota = Quota(r)
    budget = Budget("one", ((1, 1.0),))
    _, first = quota.grant(budget, holder="a")
    wait, _ = quota.grant(budget, holder="b")          # reserved: a's grant + the window
    assert first == "a" and wait > 0
    time.sleep(0.5)
    assert quota.confirm("a", budget) == 0.0           # a's call, half a second late
    called_at = _score(r, "zkb:quota:one:1", "a")
    time.sleep(wait - 0.5)
    again, granted = quota.grant(budget, holder="b")
    assert granted is None and again > 0.0
    time.sleep(again)
    assert quota.grant(budget, holder="b") == (0.0, "b")
    assert _score(r, "zkb:quota:one:1", "b") >= called_at + 1.0
