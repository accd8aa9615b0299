"""The Procfile, docker-compose.yml and README agree (one set of commands and variables)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from scripts.devstack import procfile

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_every_procfile_process_with_the_same_command() -> None:
    services = compose()["services"]
    for name, command in procfile().items():
        assert name in services, f"docker-compose.yml has no service {name!r}"
        compose_cmd = services[name]["command"]
        inner = re.fullmatch(r"sh -c 'exec (.*)'", compose_cmd)
        assert inner, f"{name}: compose command should be sh -c 'exec <Procfile line>'"
        assert inner.group(1).replace("$$", "$") == command, name


def test_compose_has_redis_and_the_sandbox() -> None:
    services = compose()["services"]
    assert {"redis", "sandbox", "web", "worker", "beat", "flower"} <= set(services)
    assert "noeviction" in services["redis"]["command"]
    assert "appendonly yes" in services["redis"]["command"]


def test_compose_env_uses_only_documented_variables() -> None:
    readme = (ROOT / "README.md").read_text()
    env = compose()["x-env"]
    undocumented = [k for k in env if f"`{k}`" not in readme]
    assert undocumented == []


def test_flower_requires_basic_auth_everywhere() -> None:
    assert "workers.flower" in procfile()["flower"]
    assert "FLOWER_BASIC_AUTH" in compose()["x-env"]
