"""E7 (#16): brands take turns on one Zendesk budget. One brand flooding cannot stop another from
getting its share, a brand alone gets the whole budget, and no window ever holds more than its
limit, whoever asked. Runs the real Lua script on fakeredis (adapters/fair_quota.py)."""

from __future__ import annotations

import random
import time

import fakeredis

from bridge.adapters import redis_keys as keys
from bridge.adapters.fair_quota import FairQuota
from bridge.adapters.quota import GUARD_SECONDS, Quota
from bridge.budgets import BACKGROUND, INTERACTIVE, background_share
from bridge.domain.model import Budget

ZENDESK = Budget("zendesk", ((10, 60.0),))
UPDATES = Budget("zendesk-ticket-updates", ((6, 60.0),))


def granted(quota: FairQuota, brand: str, times: int, *budgets: Budget,
            lane: str = INTERACTIVE) -> int:
    return sum(quota.take(*(budgets or (ZENDESK,)), brand=brand, lane=lane) == 0.0
               for _ in range(times))


def test_a_brand_alone_gets_the_whole_budget() -> None:
    quota = FairQuota(fakeredis.FakeRedis())
    assert granted(quota, "shop1", 15) == 10
    assert quota.take(ZENDESK, brand="shop1", lane=INTERACTIVE) > 0.0


def test_one_brand_flooding_leaves_the_other_asking_brand_its_share() -> None:
    quota = FairQuota(fakeredis.FakeRedis(), asking_seconds=30.0)
    assert granted(quota, "shop2", 1) == 1          # shop2 has a customer text...
    assert granted(quota, "shop1", 50) == 5         # ...shop1's wave stops at its share (5)
    # ...keeping room for shop2's next texts, which are granted though shop1 keeps asking:
    for _ in range(4):
        assert granted(quota, "shop1", 3) == 0
        assert granted(quota, "shop2", 1) == 1
    assert granted(quota, "shop1", 1) + granted(quota, "shop2", 1) == 0   # 5 + 5: full


def test_a_brand_over_its_share_still_uses_room_nobody_is_owed() -> None:
    quota = FairQuota(fakeredis.FakeRedis(), asking_seconds=30.0)
    assert granted(quota, "shop2", 5) == 5          # shop2 took its whole share
    assert granted(quota, "shop1", 50) == 5         # nothing owed to shop2: shop1 fills up


def test_a_refused_brand_counts_as_asking_until_it_is_due_again() -> None:
    """When the window is full, the brand that was refused gets the next free room, not the
    brand that asks most often (a wave polling the budget cannot take every freed slot)."""
    quota = FairQuota(fakeredis.FakeRedis(), asking_seconds=0.5)
    short = Budget("zendesk", ((4, 0.3),))
    assert granted(quota, "shop1", 10, short) == 4         # shop1 alone: all of it
    wait = quota.take(short, brand="shop2", lane=INTERACTIVE)
    assert 0.0 < wait <= 0.3 + GUARD_SECONDS + 0.01
    time.sleep(0.3 + GUARD_SECONDS + 0.02)                 # shop1's calls leave the window
    assert granted(quota, "shop1", 10, short) == 2         # shop1 keeps only its half...
    assert granted(quota, "shop2", 10, short) == 2         # ...and shop2 gets the other


def test_a_refusal_without_claim_leaves_no_room_owed_once_its_second_is_over() -> None:
    """A write staged for a bulk job when refused (E6) never asks again: its brand counts as
    asking for ASKING_SECONDS only, so the room is not held for it until it would be due."""
    quota = FairQuota(fakeredis.FakeRedis(), asking_seconds=0.2)
    short = Budget("zendesk", ((4, 0.5),))
    assert granted(quota, "shop1", 10, short) == 4         # shop1 alone: all of it
    assert quota.take(short, brand="shop2", lane=INTERACTIVE, claim=False) > 0.0
    time.sleep(0.5 + GUARD_SECONDS + 0.02)                 # the window empties...
    assert granted(quota, "shop1", 10, short) == 4         # ...and shop2 claims none of it


def test_a_refusal_for_fairness_says_when_to_ask_again() -> None:
    quota = FairQuota(fakeredis.FakeRedis(), asking_seconds=2.0)
    granted(quota, "shop2", 1)
    assert granted(quota, "shop1", 5) == 5          # its share
    wait = quota.take(ZENDESK, brand="shop1", lane=INTERACTIVE)
    assert 0.0 < wait <= 2.0 + 0.01                 # a recheck soon, not a whole window


def test_three_brands_share_in_thirds_when_all_ask() -> None:
    quota = FairQuota(fakeredis.FakeRedis(), asking_seconds=30.0)
    budget = Budget("zendesk", ((9, 60.0),))
    for brand in ("a", "b", "c"):
        assert granted(quota, brand, 1, budget) == 1
    assert granted(quota, "a", 20, budget) == 2      # a stops at 3: b and c are owed 2 each
    assert granted(quota, "b", 20, budget) == 2
    assert granted(quota, "c", 20, budget) == 2


def test_within_the_background_lane_brands_take_turns_and_texts_keep_their_reserve() -> None:
    quota = FairQuota(fakeredis.FakeRedis(), asking_seconds=30.0)
    interactive = Budget("zendesk", ((22, 60.0),))
    background = background_share(interactive)                          # 16 of 22
    assert granted(quota, "shop2", 1, background, lane=BACKGROUND) == 1
    assert granted(quota, "shop1", 50, background, lane=BACKGROUND) == 8   # its half of 16
    assert granted(quota, "shop2", 50, background, lane=BACKGROUND) == 7   # 8 with the first
    # shop1's campaign notes did not count against its customer texts' lane:
    assert granted(quota, "shop1", 2, interactive) == 2
    assert granted(quota, "shop2", 10, interactive) == 4      # the rest of the reserve


def test_no_window_ever_holds_more_than_its_limit_whoever_asks() -> None:
    rng = random.Random(16)
    r = fakeredis.FakeRedis()
    quota = FairQuota(r, asking_seconds=rng.choice((0.5, 5.0, 60.0)))
    plain = Quota(r)                                 # today's grants share the same windows
    grants = {"zendesk": 0, "zendesk-ticket-updates": 0}
    refusals = 0
    for _ in range(400):
        brand, lane = rng.choice(("a", "b", "c")), rng.choice((INTERACTIVE, BACKGROUND))
        wanted = (ZENDESK, UPDATES) if rng.random() < 0.5 else (ZENDESK,)
        if lane == BACKGROUND:
            wanted = tuple(map(background_share, wanted))
        ok = (plain.take(*wanted) if rng.random() < 0.1
              else quota.take(*wanted, brand=brand, lane=lane)) == 0.0
        refusals += not ok
        for b in wanted:
            grants[b.name] += ok
    assert refusals > 300                            # the budget was contended throughout
    assert r.zcard(keys.quota("zendesk", 60)) == grants["zendesk"] <= 10
    assert r.zcard(keys.quota("zendesk-ticket-updates", 60)) == grants[
        "zendesk-ticket-updates"] <= 6


def test_grants_of_todays_quota_count_as_the_default_brands() -> None:
    r = fakeredis.FakeRedis()
    quota, plain = FairQuota(r, asking_seconds=30.0), Quota(r)
    assert quota.take(ZENDESK, brand="shop2", lane=INTERACTIVE) == 0.0
    assert sum(plain.take(ZENDESK) == 0.0 for _ in range(5)) == 5   # a worker not upgraded yet
    # those 5 are the default brand's share, the rest is owed to shop2:
    assert quota.take(ZENDESK, brand="default", lane=INTERACTIVE) > 0.0
    assert granted(quota, "shop2", 10) == 4


def test_a_refunded_fair_grant_frees_its_room() -> None:
    r = fakeredis.FakeRedis()
    quota = FairQuota(r)
    assert granted(quota, "shop1", 9) == 9
    wait, grant = quota.grant(ZENDESK, brand="shop1", lane=INTERACTIVE)
    assert wait == 0.0 and grant is not None and grant.startswith("shop1|interactive|")
    assert quota.take(ZENDESK, brand="shop1", lane=INTERACTIVE) > 0.0
    quota.refund(grant, ZENDESK)
    assert quota.take(ZENDESK, brand="shop1", lane=INTERACTIVE) == 0.0


def test_keys_expire_and_the_asking_set_is_declared() -> None:
    r = fakeredis.FakeRedis()
    FairQuota(r, asking_seconds=1.0).take(ZENDESK, brand="shop1", lane=INTERACTIVE)
    assert 0 < r.pttl(keys.quota("zendesk", 60)) <= (60 + GUARD_SECONDS) * 1000 + 1000
    asking = keys.quota_asking("zendesk", 60, INTERACTIVE)
    assert asking == "zkb:quota:zendesk:60:asking:interactive"
    assert 0 < r.pttl(asking) <= 2000
    assert "zkb:quota:<budget>:<window>:asking:<lane>" in keys.TABLE


def test_no_span_of_a_window_ever_holds_more_than_its_limit_as_time_passes() -> None:
    """The same, across several windows' time: the grants' own times (Redis's clock, read back
    from the window) never put more than the limit in any span of the vendor's window."""
    rng = random.Random(7)
    r = fakeredis.FakeRedis()
    quota = FairQuota(r, asking_seconds=0.05)
    budget = Budget("zendesk", ((5, 0.2),))
    times: list[float] = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        lane = rng.choice((INTERACTIVE, BACKGROUND))
        wanted = budget if lane == INTERACTIVE else background_share(budget)
        _, grant = quota.grant(wanted, brand=rng.choice(("a", "b")), lane=lane)
        if grant is not None:
            times.append(float(r.zscore(keys.quota("zendesk", 0.2), grant) or 0.0))
        time.sleep(rng.random() * 0.01)
    assert len(times) > 10                       # several windows' worth were granted
    assert all(sum(t <= u < t + 0.2 for u in times) <= 5 for t in times)
