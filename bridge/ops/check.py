"""One line of the setup check (`zkbridge check`, /ops)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True      # False: a warning; the bridge runs, a guarantee is weakened
