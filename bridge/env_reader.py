"""Reading environment variables for Settings (config.py): text, secrets (also from
`<NAME>_FILE`), booleans, whole numbers, choices, URLs, daily windows and time zones, each
problem collected with the variable to set, never with a secret's value."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.errors import ConfigError
from bridge.upstreams import url_problem

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
DAILY_WINDOW = re.compile(r"^\s*((?:[01]\d|2[0-3]):[0-5]\d)\s*-\s*"
                          r"((?:[01]\d|2[0-3]):[0-5]\d)\s*$")   # QUIET_HOURS (A8)


class EnvReader:
    """Reads settings from environment variables, collecting every problem instead of failing
    on the first one (`raise_if_any` reports them together)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

    def secret(self, name: str, required: bool = False) -> str | None:
        """A secret from `name`, or from the file `<name>_FILE` names (Docker and Kubernetes
        secrets); the value never appears in a problem."""
        path = self.text(f"{name}_FILE")
        if path is None:
            return self.text(name, required)
        if self.text(name):
            self.problem(f"set {name} or {name}_FILE, not both")
            return None
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as e:
            self.problem(f"{name}_FILE={path!r} cannot be read ({e.strerror})")
            return None
        if not value and required:
            self.problem(f"{name}_FILE={path!r} is empty")
        return value or None

    def text(self, name: str, required: bool = False) -> str | None:
        value = (self.env.get(name) or "").strip()
        if not value:
            if required:
                self.problem(f"{name} is not set")
            return None
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.env.get(name)
        if raw is None:
            return default
        if raw.strip().lower() in TRUE:
            return True
        if raw.strip().lower() in FALSE:
            return False
        self.problem(f"{name} must be true or false, got {raw!r}")
        return default

    def integer(self, name: str, minimum: int | None = None) -> int | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            self.problem(f"{name} must be a whole number, got {raw!r}")
            return None
        if minimum is not None and value < minimum:
            self.problem(f"{name} must be at least {minimum}, got {value}")
        return value

    def positive_number(self, name: str, hint: str = "") -> float | None:
        """A number above 0, fractions allowed; None when unset, or wrong (then a problem)."""
        raw = self.text(name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not 0 < value < math.inf:       # nan fails both comparisons
            self.problem(f"{name} must be a number above 0, got {raw!r}{hint}")
            return None
        return value

    def daily_window(self, name: str) -> str | None:
        """`HH:MM-HH:MM` on a 24-hour clock (an end before the start is the next day's), as
        `start-end`; None when unset, or wrong (then a problem)."""
        raw = self.text(name)
        if raw is None:
            return None
        m = DAILY_WINDOW.match(raw)
        if not m or m[1] == m[2]:
            self.problem(f"{name} must look like 21:00-08:00 (24-hour start-end, different "
                         f"times; an end before the start is the next morning), got {raw!r}")
            return None
        return f"{m[1]}-{m[2]}"

    def time_zone(self, name: str, needed_by: str | None = None) -> str | None:
        """An IANA time zone name the zone database knows; None when unset (a problem if the
        variable `needed_by` is set) or wrong (a problem)."""
        raw = self.text(name)
        if raw is None:
            if needed_by and self.text(needed_by):
                self.problem(f"{needed_by} needs {name}: an IANA time zone such as "
                             "America/New_York")
            return None
        try:
            ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError):
            self.problem(f"{name} must be an IANA time zone such as America/New_York, "
                         f"got {raw!r}")
            return None
        return raw

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        """One of `allowed` (case-insensitive); the first is the default."""
        value = (self.text(name) or allowed[0]).lower()
        if value not in allowed:
            self.problem(f"{name} must be " + " or ".join(repr(a) for a in allowed)
                         + f", got {value!r}")
        return value

    def url(self, name: str, required: bool = False, default: str | None = None) -> str:
        value = self.text(name, required=required) or default or ""
        problem = url_problem(name, value, strict=False) if value else None
        if problem:
            self.problem(problem)
        return value

    def secure_host(self, name: str, value: str, host_ok) -> None:  # noqa: ANN001
        problem = url_problem(name, value, strict=True, host_ok=host_ok) if value else None
        if problem and problem not in self.problems:
            self.problem(problem)
