"""The chaos report line says whether its losses are the scenario's expected outcome (the
no-AOF demonstration) or a fault, so a passing run never prints an unexplained `losses=219`."""

from __future__ import annotations

from tests.chaos.report import ChaosReport, tally


def test_a_scenario_without_losses_says_zero() -> None:
    report = ChaosReport("upstream-faults")
    report.add("texts", tally(["a", "b"], ["a", "b"]))
    assert "losses=0 " in report.line()


def test_expected_losses_are_labelled_with_why() -> None:
    report = ChaosReport("redis-restart-no-persistence", losses_expected="Redis without AOF")
    report.add("texts", tally(["a", "b", "c"], ["a"]))
    assert "losses=2 (EXPECTED: Redis without AOF)" in report.line()


def test_losses_nobody_expected_are_marked_unexpected() -> None:
    report = ChaosReport("worker-kills")
    report.add("texts", tally(["a", "b"], ["a"]))
    assert "losses=1 (UNEXPECTED)" in report.line()
