"""The one report line every chaos scenario prints: what went in, what should have come out,
what did, and how far apart they are (duplicates, losses).

`tally` counts effects by key (a text's body, a reply's body, a ticket id...) against the keys
expected exactly once; `ChaosReport.emit` prints the line and attaches it to the test's report
(`record_property`), so `tests/conftest.py` can repeat every line in the run's summary, also
from xdist workers.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

PROPERTY = "chaos_report"


@dataclass
class Tally:
    """Effects of one kind: keys expected once, keys seen (with repeats)."""

    expected: int
    seen: int                     # distinct expected keys seen at least once
    duplicates: int               # extra occurrences of any key
    lost: list[Hashable]          # expected keys never seen
    unexpected: list[Hashable]    # keys seen that were never expected

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.expected + other.expected, self.seen + other.seen,
                     self.duplicates + other.duplicates, self.lost + other.lost,
                     self.unexpected + other.unexpected)


def tally(expected: Iterable[Hashable], seen: Iterable[Hashable]) -> Tally:
    wanted = list(expected)
    counts = Counter(seen)
    wanted_set = set(wanted)
    return Tally(expected=len(wanted),
                 seen=sum(1 for k in wanted_set if counts[k]),
                 duplicates=sum(n - 1 for n in counts.values() if n > 1),
                 lost=[k for k in wanted if not counts[k]],
                 unexpected=[k for k in counts if k not in wanted_set])


@dataclass
class ChaosReport:
    scenario: str
    events_in: int = 0
    expected: int = 0
    seen: int = 0
    duplicates: int = 0
    losses: int = 0
    started: float = field(default_factory=time.monotonic)
    notes: dict[str, Any] = field(default_factory=dict)
    # Why this scenario loses effects by design (a demonstration, e.g. Redis without AOF); the
    # line then says its losses are the expected outcome. Any other loss is marked UNEXPECTED.
    losses_expected: str = ""

    def add(self, kind: str, t: Tally) -> Tally:
        """Fold one kind of effect into the totals; its own figures go into the notes."""
        self.expected += t.expected
        self.seen += t.seen
        self.duplicates += t.duplicates
        self.losses += len(t.lost)
        self.notes[kind] = f"{t.seen}/{t.expected}" + (
            f"(dup {t.duplicates}, lost {len(t.lost)})" if t.duplicates or t.lost else "")
        return t

    def line(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.notes.items())
        return (f"CHAOS {self.scenario}: events_in={self.events_in} "
                f"effects_expected={self.expected} effects_seen={self.seen} "
                f"duplicates={self.duplicates} {self.losses_label()} "
                f"runtime={time.monotonic() - self.started:.0f}s" + (f" | {extra}" if extra
                                                                      else ""))

    def losses_label(self) -> str:
        if not self.losses:
            return "losses=0"
        if self.losses_expected:
            return f"losses={self.losses} (EXPECTED: {self.losses_expected})"
        return f"losses={self.losses} (UNEXPECTED)"

    def emit(self, record_property: Callable[[str, object], None]) -> str:
        text = self.line()
        print(text, flush=True)
        record_property(PROPERTY, text)
        return text
