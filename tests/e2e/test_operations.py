"""Operations end to end (E2): failed jobs and replay through the `zkbridge` CLI, the setup
check, and Zendesk provisioning, against the real processes and the sandbox.

The CLI runs as a subprocess with the stack's environment, as an operator would run it.
The stack runs with MAX_ATTEMPTS=4 (conftest.E2E_ENV) so a poison text is set aside quickly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from scripts.devstack import ROOT
from tests.e2e.conftest import E2E_ENV
from tests.e2e.harness import ALICE, Bridge, wait_for

pytestmark = pytest.mark.e2e
MAX_ATTEMPTS = int(E2E_ENV["MAX_ATTEMPTS"])


def zkbridge(bridge: Bridge, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    run_env = {**bridge.stack.env(), "PYTHONIOENCODING": "utf-8", **env}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=run_env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def faults(bridge: Bridge, **values: float) -> None:
    requests.post(f"{bridge.sandbox}/_sandbox/faults", json={"api": "zendesk", **values},
                  timeout=10).raise_for_status()


def clear_faults(bridge: Bridge) -> None:
    requests.delete(f"{bridge.sandbox}/_sandbox/faults", timeout=10).raise_for_status()


def failed_jobs(bridge: Bridge) -> dict[str, dict]:
    return {k.decode(): json.loads(v) for k, v in bridge.redis.hgetall("zkb:failed").items()}


def bodies(bridge: Bridge) -> list[str]:
    tickets = bridge.tickets_of(ALICE)
    return [c["body"] for t in tickets for c in bridge.comments(t["id"])]


def poison_then_next(bridge: Bridge) -> tuple[str, str]:
    """Alice texts while every Zendesk call fails, then texts again. The first text exhausts its
    attempts and is set aside; Zendesk recovers at that moment, and the second lands."""
    faults(bridge, error_rate=1.0)
    try:
        poison = "klaviyo:" + bridge.text(ALICE, "poison: first text")["event_id"]
        time.sleep(0.5)
        bridge.text(ALICE, "second text")
        deadline = time.time() + 90
        while poison not in failed_jobs(bridge):   # tight loop: clear the fault at once
            assert time.time() < deadline, "the poison text was never set aside"
            assert bodies(bridge) == [], "nothing can land while Zendesk fails"
            time.sleep(0.05)
    finally:
        clear_faults(bridge)
    wait_for(lambda: bodies(bridge) == ["second text"], timeout=60,
             what="the next text to land once the poison one is set aside")
    bridge.settle()
    return poison, "second text"


def test_a_poison_text_is_set_aside_with_its_reason_and_does_not_block_the_next_one(
        bridge: Bridge) -> None:
    poison, _ = poison_then_next(bridge)
    job = failed_jobs(bridge)[poison]
    assert job["error"] == "Retryable" and job["attempts"] == MAX_ATTEMPTS
    assert "POST users/create_or_update answered 50" in job["message"]
    assert bridge.redis.hget(f"zkb:ev:{poison}", "state") == b"failed"

    listed = zkbridge(bridge, "failed", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["ref"], row["attempts"], row["state"]) == (poison, MAX_ATTEMPTS, "failed")
    table = zkbridge(bridge, "failed", "list", "--source", "klaviyo")
    assert poison[:40] in table.stdout and "1 failed job(s)" in table.stdout
    shown = zkbridge(bridge, "failed", "show", poison)
    assert shown.returncode == 0, shown.stderr
    assert "poison: first text" in shown.stdout and ALICE not in shown.stdout


def test_a_replayed_job_succeeds_once_leaves_the_list_and_a_second_replay_changes_nothing(
        bridge: Bridge) -> None:
    poison, _ = poison_then_next(bridge)

    replayed = zkbridge(bridge, "failed", "replay", poison)
    assert replayed.returncode == 0, replayed.stderr
    assert f"{poison}: replayed" in replayed.stdout
    wait_for(lambda: poison not in failed_jobs(bridge), what="the replayed job to succeed")
    bridge.settle()
    # Order cannot be restored once the next text has landed (README: set aside).
    assert bodies(bridge) == ["second text", "poison: first text"]
    assert bridge.redis.hget(f"zkb:ev:{poison}", "state") == b"done"
    assert zkbridge(bridge, "failed", "list").stdout.strip() == "No failed jobs."

    bridge.reset_calls()
    again = zkbridge(bridge, "failed", "replay", poison)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"{poison}: already applied; nothing changed"
    time.sleep(1)
    bridge.settle()
    assert bodies(bridge) == ["second text", "poison: first text"]
    assert bridge.zendesk_calls() == 0


def test_the_setup_check_passes_against_the_sandbox_and_explains_a_wrong_secret(
        bridge: Bridge) -> None:
    good = zkbridge(bridge, "check")
    assert good.returncode == 0, good.stdout + good.stderr
    for line in ("✓ Zendesk API user: signed in to", "✓ Klaviyo API key: the key is accepted",
                 "✓ Redis: answers at", "✓ Workers: 1 answered", "✓ Webhook secrets",
                 "✓ Zendesk credential: an OAuth client (zkbridge)"):
        assert line in good.stdout, good.stdout
    assert "⚠ Redis persistence: append-only file off" in good.stdout  # the test Redis has none
    assert "All required checks passed" in good.stdout

    time.sleep(1.1)   # Klaviyo's accounts endpoint allows one call a second
    bad = zkbridge(bridge, "check", ZENDESK_OAUTH_CLIENT_SECRET="not-the-secret-zz9")
    assert bad.returncode == 1
    assert ("✗ Zendesk API user: Zendesk OAuth refused the client credentials "
            "(invalid_client): check ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET"
            ) in bad.stdout
    assert "not-the-secret-zz9" not in bad.stdout + bad.stderr
    assert "1 required check(s) failed" in bad.stdout
    assert bridge.counters().get("zendesk_oauth:refused:invalid_client") == 1


def test_an_api_token_still_works_and_check_warns_it_stops_on_2027_04_30(
        bridge: Bridge) -> None:
    token = zkbridge(bridge, "check", ZENDESK_OAUTH_CLIENT_ID="", ZENDESK_OAUTH_CLIENT_SECRET="",
                     ZENDESK_EMAIL="bridge@acme-shop.test",
                     ZENDESK_API_TOKEN="sandbox-zendesk-token")
    assert token.returncode == 0, token.stdout + token.stderr
    assert "✓ Zendesk API user: signed in to" in token.stdout
    assert "⚠ Zendesk credential: an API token (ZENDESK_API_TOKEN): Zendesk stops every API " \
           "token on 2027-04-30" in token.stdout

    time.sleep(1.1)
    bad = zkbridge(bridge, "check", ZENDESK_OAUTH_CLIENT_ID="", ZENDESK_OAUTH_CLIENT_SECRET="",
                   ZENDESK_EMAIL="bridge@acme-shop.test", ZENDESK_API_TOKEN="not-the-token-zz9")
    assert bad.returncode == 1
    assert ("✗ Zendesk API user: Zendesk rejected the API token for bridge@…: check "
            "ZENDESK_EMAIL and ZENDESK_API_TOKEN") in bad.stdout
    assert "not-the-token-zz9" not in bad.stdout + bad.stderr


def admin(bridge: Bridge, what: str) -> list[dict]:
    return requests.get(f"{bridge.sandbox}/_sandbox/zendesk/{what}", timeout=10).json()[what]


def test_provisioning_twice_makes_one_webhook_one_view_and_one_automation(
        bridge: Bridge, tmp_path: Path) -> None:
    secret_file = tmp_path / "zendesk-webhook-secret"
    args = ("provision", "--view", "--automation", "--close-after-hours", "72")
    first = zkbridge(bridge, *args, "--secret-file", str(secret_file),
                     PUBLIC_URL=bridge.stack.web_url)
    # 3: provisioned, and the receiver refuses deliveries until the secret is set (#17)
    assert first.returncode == 3, first.stdout + first.stderr
    assert [line.split(": ", 1)[1].split(";")[0] for line in first.stdout.splitlines()[:3]] == [
        "created"] * 3
    [hook] = admin(bridge, "webhooks")
    assert hook["endpoint"] == f"{bridge.stack.web_url}/webhooks/zendesk"
    assert sorted(hook["subscriptions"]) == [
        "zen:event-type:ticket.comment_added", "zen:event-type:ticket.created",
        "zen:event-type:ticket.status_changed", "zen:event-type:ticket.tags_changed"]
    secret = secret_file.read_text().strip()
    assert secret == hook["signing_secret"]["secret"] and secret not in first.stdout
    assert secret_file.stat().st_mode & 0o777 == 0o600

    second = zkbridge(bridge, *args, PUBLIC_URL=bridge.stack.web_url,
                      ZENDESK_WEBHOOK_SECRET=secret)
    assert second.returncode == 0, second.stdout + second.stderr
    assert [line.split(": ", 1)[1] for line in second.stdout.splitlines()[:3]] == [
        "unchanged"] * 3
    assert "nothing to do" in second.stdout and secret not in second.stdout
    assert len(admin(bridge, "webhooks")) == 1
    [view] = admin(bridge, "views")
    [automation] = admin(bridge, "automations")
    assert view["title"] == "SMS tickets"
    assert automation["title"] == "Close solved SMS tickets after 72 hours"
    assert automation["actions"] == [{"field": "status", "value": "closed"}]
    calls = bridge.calls()
    assert calls.get("zendesk POST /api/v2/webhooks") == 1
    assert not calls.get("zendesk PATCH /api/v2/webhooks/{id}")
    assert calls.get("zendesk POST /api/v2/views") == 1
    assert calls.get("zendesk POST /api/v2/automations") == 1
    assert not calls.get("zendesk PUT /api/v2/views/{id}")
    assert not calls.get("zendesk PUT /api/v2/automations/{id}")


def test_provision_without_public_url_says_what_to_set(bridge: Bridge) -> None:
    result = zkbridge(bridge, "provision", PUBLIC_URL="")
    assert result.returncode == 2
    assert "PUBLIC_URL is not set" in result.stderr
