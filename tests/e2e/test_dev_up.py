"""`./dev up` as a person uses it: the CLI can be pointed at the running stack (`./dev env`),
Ctrl-C — or SIGINT to a stack running in the background — stops every process it started,
without a traceback, every time (tried several times in a row), and it serves two brands (E7):
a text to the second brand's number (bolt, sandbox/brands.dev.toml) becomes a ticket in bolt's
Zendesk brand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from scripts.devstack import ROOT, free_port, port_answers, redis_server_binary

pytestmark = pytest.mark.e2e

HANG = 180          # seconds; only stops a stack that never starts or never stops
PYTHON, ZKBRIDGE = sys.executable, Path(sys.executable).with_name("zkbridge")
ENV = f"{PYTHON} scripts/devstack.py env"      # what `./dev env` execs


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own, so `./dev up` touches no database it did not create."""
    port = free_port()
    server = subprocess.Popen([redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no",
                               "--dir", str(tmp_path_factory.mktemp("redis"))],
                              stdout=subprocess.DEVNULL)
    wait_until(lambda: port_answers(port), "redis-server")
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(30)


def wait_until(check, what: str, bound: float = HANG) -> None:  # noqa: ANN001
    deadline = time.time() + bound
    while not check():
        assert time.time() < deadline, f"{what}: still waiting after {bound:.0f}s (a hang)"
        time.sleep(0.2)


def descendants(pid: int) -> set[tuple[int, str]]:
    """(pid, start time) of every process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            starts[int(entry.name)] = fields[19]
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add((child, starts[child]))
            todo.append(child)
    return found


def still_running(procs: set[tuple[int, str]]) -> list[int]:
    alive = []
    for pid, started in procs:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[19] == started and fields[0] != "Z":
            alive.append(pid)
    return alive


class DevUp:
    """`python scripts/devstack.py` (what `./dev up` execs) on free ports, in its own group
    as a terminal's foreground job, or with SIGINT ignored as a shell's background job."""

    def __init__(self, tmp: Path, redis_url: str, background: bool) -> None:
        self.run_dir, self.output = tmp / "run", tmp / "dev-up.out"
        self.ports = {"PORT": free_port(), "SANDBOX_PORT": free_port(),
                      "FLOWER_PORT": free_port()}
        env = {**os.environ, "REDIS_URL": redis_url, "ZKB_RUN_DIR": str(self.run_dir),
               **{k: str(v) for k, v in self.ports.items()}}
        for name in ("FLOWER_BASIC_AUTH", "BRANDS_FILE", "ZENDESK_BRAND_ID"):
            env.pop(name, None)            # ./dev up's own defaults, as a fresh shell has them
        self.env = env
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None
        with open(self.output, "wb") as out:
            self.popen = subprocess.Popen([sys.executable, "scripts/devstack.py"], cwd=ROOT,
                                          env=env, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True, preexec_fn=ignore)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_ready(self) -> None:
        wait_until(lambda: "Ctrl-C stops everything." in self.text()
                   or self.popen.poll() is not None, "dev stack to start")
        assert self.popen.poll() is None, self.text()

    def run(self, shell: str) -> subprocess.CompletedProcess:
        return subprocess.run(["sh", "-c", shell], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=HANG)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("how", ["ctrl-c", "sigint-to-background-job", "ctrl-c-twice"])
def test_dev_up_stops_everything_on_sigint_without_a_traceback(
        how: str, tmp_path: Path, redis_url: str) -> None:
    dev = DevUp(tmp_path, redis_url, background=how == "sigint-to-background-job")
    try:
        dev.wait_ready()
        started = descendants(dev.popen.pid)
        assert len(started) >= 5, started          # sandbox, web, worker, beat, flower (+ kids)
        if how == "sigint-to-background-job":
            os.kill(dev.popen.pid, signal.SIGINT)
        else:
            os.killpg(dev.popen.pid, signal.SIGINT)   # what a terminal's Ctrl-C does
            if how == "ctrl-c-twice":
                time.sleep(0.3)
                os.killpg(dev.popen.pid, signal.SIGINT)
        code = dev.popen.wait(HANG)
    finally:
        if dev.popen.poll() is None:
            os.killpg(dev.popen.pid, signal.SIGKILL)
    output = dev.text()
    assert code == 0, output
    assert "Traceback" not in output and "stopped." in output, output
    wait_until(lambda: not still_running(started), "every process of the stack to be gone", 60)
    assert not any(port_answers(p) for p in dev.ports.values())
    assert not (dev.run_dir / "env.sh").exists()


@pytest.mark.timeout(600)
def test_dev_env_points_the_cli_at_the_running_stack(tmp_path: Path, redis_url: str) -> None:
    dev = DevUp(tmp_path, redis_url, background=False)
    try:
        dev.wait_ready()
        printed = dev.run(ENV)
        assert printed.returncode == 0 and f"export REDIS_URL={redis_url}" in printed.stdout
        assert f"PORT={dev.ports['PORT']}" in printed.stdout
        # What `./dev zkbridge failed list` runs: the CLI with only that environment.
        cli = dev.run(f'env -u REDIS_URL -u ZENDESK_URL sh -c \'eval "$({ENV})" && '
                      f'exec {ZKBRIDGE} failed list\'')
        assert cli.returncode == 0, cli.stderr
        assert (dev.run_dir / "env.sh").stat().st_mode & 0o077 == 0     # owner only
    finally:
        os.killpg(dev.popen.pid, signal.SIGINT)
        dev.popen.wait(HANG)
    gone = dev.run(ENV)
    assert gone.returncode == 1 and "./dev up" in gone.stderr


@pytest.mark.timeout(600)
def test_dev_up_serves_two_brands_a_text_to_bolt_lands_in_bolts_zendesk_brand(
        tmp_path: Path, redis_url: str) -> None:
    dev = DevUp(tmp_path, redis_url, background=False)
    sandbox = f"http://127.0.0.1:{dev.ports['SANDBOX_PORT']}"
    try:
        dev.wait_ready()
        assert "/webhooks/klaviyo/bolt" in dev.text() and "phone?account=bolt" in dev.text()
        for to, body in (("+18005550100", "hello acme"), ("+18005550200", "hello bolt")):
            requests.post(f"{sandbox}/_sandbox/klaviyo/inbound", timeout=10, json={
                "from": "+15005550101", "to": to, "body": body}).raise_for_status()

        def tickets() -> dict[str, dict]:
            found = requests.get(f"{sandbox}/_sandbox/zendesk/tickets", timeout=10).json()
            return {t["external_id"].rsplit(":", 1)[1]: t for t in found["tickets"]}

        wait_until(lambda: len(tickets()) == 2, "a ticket for each brand", 120)
        by_number = tickets()
        assert by_number["+18005550200"]["brand_id"] == 8002
        assert by_number["+18005550200"]["comments"][0]["body"] == "hello bolt"
        assert by_number["+18005550100"]["brand_id"] == 8001
        phone = requests.get(f"{sandbox}/phone", params={"account": "bolt"}, timeout=10).text
        assert "+18005550200" in phone and "+18005550100" not in phone
    finally:
        os.killpg(dev.popen.pid, signal.SIGINT)
        dev.popen.wait(HANG)
