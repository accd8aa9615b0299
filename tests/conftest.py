"""Run-wide hooks. The chaos scenarios' report lines (tests/chaos/report.py) are repeated at the
end of the run, whether the scenario passed or failed and whichever xdist worker ran it."""

from __future__ import annotations

import pytest

from tests.chaos.report import PROPERTY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
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
