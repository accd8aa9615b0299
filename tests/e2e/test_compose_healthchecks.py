"""The healthchecks of both compose files, run against real processes: each answers healthy
while its process serves (web: Redis answers; worker: answers a ping; Flower; Redis). Beat has
none: a standby beat is healthy by design (docs/production.md)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from scripts.devstack import ROOT, Stack

pytestmark = pytest.mark.e2e

FILES = ("docker-compose.yml", "docker-compose.prod.yml")
HANG = 120


def healthchecks(name: str) -> dict[str, list[str]]:
    services = yaml.safe_load((ROOT / name).read_text())["services"]
    return {s: v["healthcheck"]["test"] for s, v in services.items() if "healthcheck" in v}


def test_every_long_running_bridge_process_has_a_healthcheck_in_both_files() -> None:
    for name in FILES:
        assert {"redis", "web", "worker", "flower"} <= set(healthchecks(name)), name


def as_local(test: list[str], stack: Stack) -> list[str]:
    """The container's command, pointed at this stack's ports (compose's `$$` is a `$`)."""
    kind, *args = test
    args = [a.replace("127.0.0.1:8000", f"127.0.0.1:{stack.web_port}")
             .replace("127.0.0.1:5555", f"127.0.0.1:{stack.flower_port}")
             .replace("$$", "$") for a in args]
    return ["sh", "-c", args[0]] if kind == "CMD-SHELL" else args


def healthy(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the check as compose would, again while it fails (Flower may still be starting),
    until it passes or the bound for a hang is reached."""
    deadline = time.time() + HANG
    while True:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=HANG)
        if done.returncode == 0 or time.time() > deadline:
            return done
        time.sleep(1)


@pytest.mark.timeout(900)
def test_the_healthchecks_pass_against_running_processes(tmp_path: Path) -> None:
    stack = Stack(workdir=tmp_path, processes=("sandbox", "web", "worker", "flower"))
    try:
        stack.start()
        env = {**stack.env(), "HOSTNAME": socket.gethostname()}
        for name in FILES:
            for service, test in healthchecks(name).items():
                if service == "redis":
                    test = [*test, "-p", str(stack.redis_port)]
                done = healthy(as_local(test, stack), env)
                assert done.returncode == 0, (name, service, done.stdout, done.stderr)
    finally:
        stack.stop()
