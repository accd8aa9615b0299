"""Flower starts only behind a real login (E5, issue 13)."""

from __future__ import annotations

import pytest

from workers import flower

GOOD = "ops:a-long-flower-password-41f9"


@pytest.mark.parametrize("auth", ["", "ops", "ops:", ":pw", f"{GOOD},x:y", "ops:pw,admin:1",
                                  "ops:change-me", "ops:zkbridge", "ops:short-pass"])
def test_flower_refuses_missing_split_placeholder_and_weak_logins(auth: str) -> None:
    assert flower.auth_problem({"FLOWER_BASIC_AUTH": auth})


def test_a_comma_is_refused_by_name() -> None:
    problem = flower.auth_problem({"FLOWER_BASIC_AUTH": f"{GOOD},guest:guest1234567890"})
    assert problem and "comma" in problem


def test_a_good_login_passes_and_the_dev_stack_may_keep_its_own() -> None:
    assert flower.auth_problem({"FLOWER_BASIC_AUTH": GOOD}) is None
    dev = {"FLOWER_BASIC_AUTH": "ops:zkbridge", "ALLOW_INSECURE_UPSTREAMS": "true"}
    assert flower.auth_problem(dev) is None
    assert flower.auth_problem({**dev, "FLOWER_BASIC_AUTH": "ops:change-me"})


def test_main_exits_before_starting_flower(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWER_BASIC_AUTH", f"{GOOD},x:y")
    monkeypatch.setattr(flower.os, "execv", lambda *a: pytest.fail("Flower was started"))
    with pytest.raises(SystemExit, match="comma"):
        flower.main()
