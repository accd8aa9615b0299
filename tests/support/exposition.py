"""A strict reader of Prometheus' text exposition format (version 0.0.4), written from its
specification, for tests of /metrics. Unlike prometheus_client's lenient parser it refuses what
a Prometheus server refuses or silently mangles:

- a line that is not a comment, a blank line or `name{label="value",...} value`;
- HELP or TYPE given twice for a family, or TYPE after the family's first sample;
- a sample whose name does not belong to the family announced last (families interleaved);
- the same series (name and label set) twice; a label named twice in one sample;
- a value that is not a float (`NaN`, `+Inf`, `-Inf` allowed).

`parse` returns {(sample name, sorted label pairs): value}.
"""

from __future__ import annotations

import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"'
SAMPLE = re.compile(rf"({NAME})(?:\{{((?:{LABEL},?)*)\}})? (\S+)(?: -?\d+)?")
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
                                                            "_created"),
            "summary": ("", "_sum", "_count", "_created"), "gauge": ("",), "untyped": ("",)}
Series = tuple[str, tuple[tuple[str, str], ...]]


def parse(text: str) -> dict[Series, float]:
    assert text.endswith("\n"), "the exposition must end with a newline"
    series: dict[Series, float] = {}
    meta: dict[tuple[str, str], bool] = {}
    types: dict[str, str] = {}
    family = ""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            family = _comment(line, n, meta, types, series) or family
            continue
        name, labels, value = _sample(line, n)
        assert _belongs(name, family, types.get(family, "untyped")), \
            f"line {n}: {name} outside its family (last announced: {family!r})"
        key = (name, labels)
        assert key not in series, f"line {n}: duplicate series {name}{dict(labels)}"
        series[key] = value
    return series


def _comment(line: str, n: int, meta: dict, types: dict, series: dict) -> str | None:
    parts = line.split(" ", 3)
    if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
        return None   # a plain comment
    kind, name = parts[1], parts[2]
    assert re.fullmatch(NAME, name), f"line {n}: bad metric name {name!r}"
    assert (kind, name) not in meta, f"line {n}: {kind} of {name} given twice"
    meta[(kind, name)] = True
    if kind == "TYPE":
        assert len(parts) == 4 and parts[3] in SUFFIXES, f"line {n}: bad TYPE {line!r}"
        assert not any(s == name or s.startswith(name + "_") for s, _ in series), \
            f"line {n}: TYPE of {name} after its samples"
        types[name] = parts[3]
    return name


def _sample(line: str, n: int) -> tuple[str, tuple[tuple[str, str], ...], float]:
    match = SAMPLE.fullmatch(line)
    assert match, f"line {n}: not a sample line: {line!r}"
    name, label_text, value = match.group(1), match.group(2) or "", match.group(5)
    pairs = re.findall(LABEL, label_text)
    names = [k for k, _ in pairs]
    assert len(names) == len(set(names)), f"line {n}: a label given twice: {line!r}"
    try:
        number = float(value)
    except ValueError as e:
        raise AssertionError(f"line {n}: value {value!r} is not a float") from e
    return name, tuple(sorted(pairs)), number


def _belongs(sample: str, family: str, kind: str) -> bool:
    """prometheus_client names a counter family `x_total` in HELP/TYPE, samples `x_total` and
    `x_created`: both spellings of the family are accepted."""
    base = family.removesuffix("_total") if kind == "counter" else family
    return bool(family) and (sample == family or any(sample == base + s for s in SUFFIXES[kind]))
