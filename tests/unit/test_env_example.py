"""`.env.example` and the README's configuration table name the same variables, so an operator
who copies the example misses none and sets nothing the processes do not read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_variables() -> set[str]:
    text = (ROOT / "README.md").read_text()
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, re.M))


def example_variables() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, re.M))


def test_the_example_lists_exactly_the_documented_variables() -> None:
    documented, example = readme_variables(), example_variables()
    assert documented, "no configuration table found in the README"
    assert sorted(documented - example) == []
    assert sorted(example - documented) == []


def test_the_example_sets_no_real_looking_secret() -> None:
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, _, value = line.partition("=")
        if not line.startswith("#") and any(w in name for w in ("SECRET", "TOKEN", "KEY")):
            assert value == "", line
