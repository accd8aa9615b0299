"""A8's settings: QUIET_HOURS (a daily window) and QUIET_HOURS_TZ (its fallback zone), checked
at start-up with the rest, each problem naming what to set."""

from __future__ import annotations

from bridge.bootstrap import holds
from bridge.domain.quiet_hours import parse
from tests.unit.test_settings import problems, settings


def test_quiet_hours_are_off_unless_set() -> None:
    s = settings()
    assert (s.quiet_hours, s.quiet_hours_tz) == (None, None)
    assert holds(s).quiet is None


def test_a_window_and_its_fallback_zone_are_read() -> None:
    s = settings(QUIET_HOURS=" 21:00 - 08:00 ", QUIET_HOURS_TZ="America/Chicago")
    assert (s.quiet_hours, s.quiet_hours_tz) == ("21:00-08:00", "America/Chicago")
    assert holds(s).quiet == parse("21:00-08:00", "America/Chicago")


def test_quiet_hours_need_a_fallback_zone() -> None:
    [problem] = problems(QUIET_HOURS="21:00-08:00")
    assert problem.startswith("QUIET_HOURS needs QUIET_HOURS_TZ")


def test_a_malformed_window_and_an_unknown_zone_are_reported_together() -> None:
    found = problems(QUIET_HOURS="9pm-8am", QUIET_HOURS_TZ="Eastern")
    assert [p.split(" ", 1)[0] for p in found] == ["QUIET_HOURS", "QUIET_HOURS_TZ"]
    assert "21:00-08:00" in found[0] and "IANA" in found[1]


def test_a_window_that_starts_when_it_ends_is_refused() -> None:
    [problem] = problems(QUIET_HOURS="08:00-08:00", QUIET_HOURS_TZ="UTC")
    assert problem.startswith("QUIET_HOURS must look like")
