"""A clone of this repository runs every test on its own: the vendors' OpenAPI files the
conformance tests read live in it, and nothing points at a folder outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "tests" / "sandbox" / "specs"


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    return [ROOT / n for n in names
            if n.endswith((".py", ".md", ".yml", ".yaml", ".toml", ".html", ".cfg", ".txt"))
            and not n.startswith("tests/sandbox/specs/")]


def test_every_spec_the_conformance_tests_load_is_in_the_repository() -> None:
    names = set()
    for test in (ROOT / "tests" / "sandbox").glob("test_*conformance.py"):
        names |= set(re.findall(r'"((?:klaviyo|zendesk)/[\w.-]+\.(?:json|yml))"',
                                test.read_text()))
    assert names, "the conformance tests name no spec file"
    assert [n for n in names if not (SPECS / n).is_file()] == []
    assert (SPECS / "README.md").is_file() and (SPECS / "klaviyo" / "LICENSE").is_file()


def test_the_specs_folder_is_the_default(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("ZKB_SPECS_DIR", raising=False)
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "sandbox"))
    from openapi_check import specs_dir  # noqa: PLC0415

    assert specs_dir() == SPECS


def test_nothing_refers_to_a_folder_outside_the_repository() -> None:
    outside = re.compile(r"\.\./shared/|/work/(?:shared|main)\b")
    found = [str(p.relative_to(ROOT)) for p in tracked_text_files()
             if p.is_file() and outside.search(p.read_text(errors="replace"))]
    assert found == []


RULE = re.compile(r"\b(?:S(?:[1-9]|1[01])|A[1-9]|M[1-5]|E[1-7])\b")


def documents() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "bench" / "README.md",
            *sorted((ROOT / "docs").glob("*.md"))]


def test_every_document_that_cites_a_rule_links_to_the_rules() -> None:
    missing = []
    for doc in documents():
        text = doc.read_text()
        if doc.name != "rules.md" and RULE.search(text) and "rules.md" not in text:
            missing.append(str(doc.relative_to(ROOT)))
    assert missing == []


def test_the_rules_page_states_every_rule_by_its_code() -> None:
    text = (ROOT / "docs" / "rules.md").read_text()
    codes = [f"S{i}" for i in range(1, 12)] + [f"A{i}" for i in range(1, 10)] + [
        f"M{i}" for i in range(1, 6)] + [f"E{i}" for i in range(1, 8)]
    assert [c for c in codes if f'<a id="{c}"></a>\n### {c} ' not in text] == []


def test_the_sandbox_pages_link_each_rule_they_name_to_the_rules_page() -> None:
    for page in sorted((ROOT / "sandbox" / "templates").glob("*.html")):
        text = re.sub(r'title="[^"]*"', "", page.read_text())      # tooltips cannot link
        named = set(RULE.findall(re.sub(r"<[^>]+>", " ", text)))
        linked = set(re.findall(r"ui\.rules'\) \}\}#([SAME]\d+)", text))
        assert named <= linked, (page.name, named - linked)
