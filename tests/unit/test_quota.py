"""The shared budget never grants more than a window's limit within any span of its length,
and grants nothing partially (E3). Runs the real Lua script on fakeredis."""

from __future__ import annotations

import fakeredis

from bridge.adapters.quota import Quota
from bridge.domain.model import Budget


def test_a_window_grants_its_limit_then_says_how_long_to_wait() -> None:
    quota = Quota(fakeredis.FakeRedis())
    budget = Budget("b", ((3, 60.0),))
    assert [quota.take(budget) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = quota.take(budget)
    assert 59.0 < wait <= 60.01


def test_per_minute_keeps_one_call_in_hand_and_honours_the_second_window() -> None:
    budget = Budget.per_minute("conv", 60, per_second=3)
    assert budget.windows == ((3, 1.0), (59, 60.0))
    quota = Quota(fakeredis.FakeRedis())
    grants = [quota.take(budget) for _ in range(4)]
    assert grants[:3] == [0.0, 0.0, 0.0]
    assert 0.0 < grants[3] <= 1.01


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
