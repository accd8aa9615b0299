"""E7: with several brands, a Zendesk call takes the fair share of the brand in scope, in its
lane (budgets.fair_gate); with one brand the plain budget is kept (bootstrap.zendesk_gate)."""

from __future__ import annotations

from pathlib import Path

from bridge import bootstrap, budgets
from bridge.adapters.fair_quota import FairQuota
from bridge.config import Settings
from bridge.domain.brand_scope import scope
from bridge.domain.model import Budget
from tests import fakes
from tests.unit.test_settings import SANDBOX


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, tuple[str, ...]]] = []
        self.claims: list[bool] = []

    def take(self, *wanted: Budget, brand: str, lane: str, claim: bool = True) -> float:
        self.calls.append((brand, lane, tuple(b.name for b in wanted)))
        self.claims.append(claim)
        return 0.0


def test_the_gate_names_the_brand_and_lane_in_scope() -> None:
    quota = Recorder()
    gate = budgets.fair_gate(quota, budgets.zendesk_budgets(Settings.from_env(SANDBOX)))
    gate("GET tickets/{id}")
    with scope("bolt"):
        gate("PUT tickets/{id}")
        with budgets.background_lane():
            gate("GET tickets/{id}")
    assert quota.calls == [("default", "interactive", ("zendesk",)),
                           ("bolt", "interactive", ("zendesk", "zendesk-ticket-updates")),
                           ("bolt", "background", ("zendesk",))]


def test_one_brand_keeps_the_plain_budget_and_a_brands_file_turns_on_the_fair_one(
        tmp_path: Path) -> None:
    st = fakes.store()
    plain = bootstrap.zendesk_gate(Settings.from_env(SANDBOX), st)
    brands_file = tmp_path / "brands.toml"
    brands_file.write_text("")
    fair = bootstrap.zendesk_gate(Settings.from_env({**SANDBOX, "BRANDS_FILE": str(brands_file)}),
                                  st)
    assert plain("GET tickets/{id}") == 0 and fair("GET tickets/{id}") == 0
    members = [m.decode() for m in st.client.zrange("zkb:quota:zendesk:60", 0, -1)]
    assert len(members) == 2
    assert sum("|" in m for m in members) == 1          # the fair grant names its brand
    assert any(m.startswith("default|interactive|") for m in members)
    assert isinstance(st.fair_quota, FairQuota)


def test_work_shared_by_every_brand_takes_its_own_turn_not_the_scoped_brands() -> None:
    """The bulk drainer writes every brand's staged texts: counted as one brand's, it would
    wait whenever that brand had used its share (E7)."""
    quota = Recorder()
    gate = budgets.fair_gate(quota, budgets.zendesk_budgets(Settings.from_env(SANDBOX)))
    with budgets.shared_work():
        gate("PUT tickets/update_many")
        with scope("bolt"):
            gate("GET job_statuses/show_many")
    gate("GET tickets/{id}")
    assert [(brand, lane) for brand, lane, _ in quota.calls] == [
        (budgets.SHARED, "interactive"), (budgets.SHARED, "interactive"),
        ("default", "interactive")]
    assert budgets.SHARED != "default" and "_" in budgets.SHARED   # never a brand's name


def test_a_write_that_would_be_staged_keeps_no_claim_when_refused() -> None:
    """E6 + E7: a refused stageable write goes to a bulk job and never asks again, so its brand
    must not keep room owed to it until it is due (room the others then could not use)."""
    quota = Recorder()
    gate = budgets.fair_gate(quota, budgets.zendesk_budgets(Settings.from_env(SANDBOX)))
    gate("PUT tickets/{id}")
    with budgets.stageable_write():
        gate("PUT tickets/{id}")
    assert quota.claims == [True, False]
