"""`zkbridge check --brand` and `zkbridge backfill --brand` against the sandbox over HTTP (E7,
#16; docs/brands.md item 6): two brands, the sandbox's two Klaviyo accounts (acme: the default
brand, from the variables; bolt: from a brands file), one Zendesk. The CLI runs as a subprocess
with the stack's environment, as an operator runs it; only the sandbox (and Redis) run."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from scripts.devstack import ROOT, Stack
from tests.e2e.harness import Bridge
from tests.factories import brand_table

pytestmark = pytest.mark.e2e
BOLT_BRAND_ID = 8002
BRANDS = brand_table("bolt", "{key}", "sandbox-bolt-webhook-secret",
                     ("+18005550200", "+12125550200", "54321"))


def brands_file(folder: Path, key: str = "pk_sandbox_bolt_key") -> str:
    path = folder / f"brands-{key}.toml"
    path.write_text(BRANDS.format(key=key))
    return str(path)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("brand-ops")
    stack = Stack(workdir=workdir, processes=("sandbox",),
                  extra_env={"BRANDS_FILE": brands_file(workdir),
                             "ZENDESK_EXPORTS_PER_MINUTE": "600"})
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def zkbridge(stack: Stack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    run_env = {**stack.env(), "PYTHONIOENCODING": "utf-8", **env}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], env=run_env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_check_of_one_brand_asks_its_own_klaviyo_account(stack: Stack, tmp_path: Path) -> None:
    good = zkbridge(stack, "check", "--brand", "bolt")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "✓ Klaviyo API key (brand bolt): the key is accepted (account: Bolt Bikes)" \
        in good.stdout
    assert "Zendesk API user" not in good.stdout

    time.sleep(1.1)   # Klaviyo's accounts endpoint allows one call a second
    bad = zkbridge(stack, "check", "--brand", "bolt",
                   BRANDS_FILE=brands_file(tmp_path, "pk_not_bolts_key"))
    assert bad.returncode == 1
    assert ("✗ Klaviyo API key (brand bolt): Klaviyo rejected the key in klaviyo_api_key of "
            "brand 'bolt' in BRANDS_FILE") in bad.stdout
    assert "pk_not_bolts_key" not in bad.stdout + bad.stderr

    unknown = zkbridge(stack, "check", "--brand", "shop9")
    assert unknown.returncode == 2
    assert "configured brands are: default, bolt" in unknown.stderr


def desk_ticket(stack: Stack, email: str, brand_id: int | None) -> int:
    fields = {"body": "My bike squeaks", "requester_email": email}
    answer = requests.post(f"{stack.sandbox_url}/_sandbox/zendesk/tickets",
                           json={**fields, **({"brand_id": brand_id} if brand_id else {})},
                           timeout=10)
    answer.raise_for_status()
    return int(answer.json()["ticket"]["id"])


def ticket_ids(bridge: Bridge, account: str | None) -> set[int]:
    return {e["properties"]["Ticket_id"] for e in bridge.klaviyo_events("Opened Ticket", account)}


def test_backfill_of_one_brand_sends_its_tickets_to_its_account_only(stack: Stack) -> None:
    bridge = Bridge(stack)
    bolts = desk_ticket(stack, "rider@bolt.test", BOLT_BRAND_ID)
    acmes = desk_ticket(stack, "buyer@acme.test", None)           # the sandbox's 8001
    unmapped = desk_ticket(stack, "someone@elsewhere.test", 9999)  # no brand maps it
    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    bridge.shift_zendesk_clock(120)     # the export never returns the last minute [doc]
    try:
        backfill_both(stack, bridge, bolts, acmes, unmapped, since)
    finally:
        bridge.shift_zendesk_clock(0)


def backfill_both(stack: Stack, bridge: Bridge, bolts: int, acmes: int, unmapped: int,
                  since: str) -> None:

    bolt = zkbridge(stack, "backfill", "--since", since, "--quiet", "--brand", "bolt")
    assert bolt.returncode == 0, bolt.stderr
    assert "brand: bolt" in bolt.stdout and "events sent: 1 " in bolt.stdout
    assert ticket_ids(bridge, "bolt") == {bolts}
    assert not {bolts, acmes, unmapped} & ticket_ids(bridge, None)

    default = zkbridge(stack, "backfill", "--since", since, "--quiet")
    assert default.returncode == 0, default.stderr
    assert "brand: default" in default.stdout
    assert "other brands' tickets, skipped: 1" in default.stdout
    assert {acmes, unmapped} <= ticket_ids(bridge, None) and bolts not in ticket_ids(bridge, None)
    assert ticket_ids(bridge, "bolt") == {bolts}                   # nothing sent twice
