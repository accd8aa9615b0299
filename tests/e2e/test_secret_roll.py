"""Rolling the Zendesk webhook secret end to end (#12): both steps of `zkbridge provision
--rotate-secret` / `--finish`, with the receiver restarted between them as an operator would,
while customers keep texting. Not one delivery is answered 401 and every event lands once."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from scripts.devstack import Stack
from tests.e2e.conftest import E2E_ENV
from tests.e2e.harness import TOLL_FREE, Bridge, wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose Zendesk events come only from webhooks made through the Webhooks API
    (the sandbox's built-in delivery URL is off)."""
    s = Stack(workdir=tmp_path_factory.mktemp("roll"),
              extra_env={**E2E_ENV, "SANDBOX_ZENDESK_WEBHOOK_URL": ""})
    try:
        s.start()
        yield s
    finally:
        s.stop()


def zkbridge(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**stack.env(), "PUBLIC_URL": stack.web_url, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "cli.main", "provision", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def restart_web(stack: Stack, secret: str) -> None:
    """What an operator does after changing ZENDESK_WEBHOOK_SECRET."""
    stack.extra_env["ZENDESK_WEBHOOK_SECRET"] = secret
    stack.restart("web")
    stack.wait_ready()


class Texting:
    """Customers texting in the background, each a new conversation (ticket.created and
    ticket.comment_added webhooks follow every one)."""

    def __init__(self, bridge: Bridge, phones: list[str]) -> None:
        self.bridge, self.phones, self.sent = bridge, phones, []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.wait(0.7):
            phone = self.phones[i % len(self.phones)]
            body = f"roll text {i}"
            self.bridge.text(phone, body)
            self.sent.append((phone, body))
            i += 1

    def __enter__(self) -> Texting:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def test_the_zendesk_secret_rolls_in_two_steps_without_a_401_or_a_lost_event(
        own_stack: Stack, tmp_path: Path) -> None:
    bridge = Bridge(own_stack)
    first_file, next_file = tmp_path / "secret-1", tmp_path / "secret-2"
    made = zkbridge(own_stack, "--secret-file", str(first_file))
    assert made.returncode == 3, made.stdout + made.stderr     # done; the secret is to set
    old = first_file.read_text().strip()
    restart_web(own_stack, old)
    phones = bridge.make_customers(5)

    with Texting(bridge, phones) as texting:
        wait_for(lambda: len(texting.sent) >= 5, what="texts before the roll")
        step1 = zkbridge(own_stack, "--rotate-secret", "--secret-file", str(next_file))
        assert step1.returncode == 0, step1.stdout + step1.stderr
        new = next_file.read_text().strip()
        assert new != old and new not in step1.stdout + step1.stderr
        early = zkbridge(own_stack, "--finish")                 # too early: refused, harmless
        assert early.returncode == 1 and "not in ZENDESK_WEBHOOK_SECRET yet" in early.stderr
        restart_web(own_stack, f"{old},{new}")
        step2 = zkbridge(own_stack, "--finish")
        assert step2.returncode == 0, step2.stdout + step2.stderr
        wait_for(lambda: len(texting.sent) >= 20, timeout=60, what="texts after the switch")
        restart_web(own_stack, new)
        wait_for(lambda: len(texting.sent) >= 28, timeout=60, what="texts after the roll")
    bridge.settle(timeout=120)

    hooks = requests.get(f"{bridge.sandbox}/_sandbox/zendesk/webhooks", timeout=10).json()
    assert [(h["name"], h["status"], h["signing_secret"]["secret"])
            for h in hooks["webhooks"]] == [("zkbridge", "active", new)]
    statuses = [a.get("status") for d in bridge.deliveries("zendesk") for a in d["attempts"]]
    assert 401 not in statuses and statuses
    for phone in phones:
        mine = [body for p, body in texting.sent if p == phone]
        [ticket] = bridge.tickets_of(phone, TOLL_FREE)
        assert [c["body"] for c in bridge.comments(ticket["id"])] == mine
    tickets = sorted(bridge.tickets_of(p, TOLL_FREE)[0]["id"] for p in phones)
    wait_for(lambda: len(bridge.klaviyo_events("Opened Ticket")) >= len(tickets),
             what="Opened Ticket for each ticket")
    assert sorted(e["properties"]["Ticket_id"]
                  for e in bridge.klaviyo_events("Opened Ticket")) == tickets
