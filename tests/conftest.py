"""Run-wide hooks: one summary line that adds up what was collected, ran and deselected; and the
chaos scenarios' report lines (tests/chaos/report.py) are repeated at the
end of the run, whether the scenario passed or failed and whichever xdist worker ran it."""

from __future__ import annotations

import pytest

from tests.chaos.report import PROPERTY

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    _what_ran(terminalreporter)
    _chaos_report(terminalreporter)


def _what_ran(terminalreporter: pytest.TerminalReporter) -> None:
    """One line that adds up: what was collected (xdist's "[N items]"), how each test ended, and
    what `-m`/`-k` deselected, so "N items / M passed" never needs explaining."""
    stats = terminalreporter.stats
    counts = {o: len({r.nodeid for r in stats.get(o, ()) if getattr(r, "nodeid", None)})
              for o in OUTCOMES}
    deselected = len(stats.get("deselected", ()))
    ended = sum(counts.values())
    parts = [f"{n} {o}" for o, n in counts.items() if n]
    terminalreporter.write_sep("-", f"tests: {ended + deselected} collected = "
                               + " + ".join(parts + [f"{deselected} deselected (-m/-k)"]))


def _chaos_report(terminalreporter: pytest.TerminalReporter) -> None:
    lines: list[str] = []
    for reports in terminalreporter.stats.values():
        for rep in reports:
            for name, value in getattr(rep, "user_properties", None) or ():
                if name == PROPERTY and value not in lines:
                    lines.append(str(value))
    if lines:
        terminalreporter.section("chaos report")
        for line in lines:
            terminalreporter.write_line(line)
