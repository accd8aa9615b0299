"""`zkbridge check | failed | backfill --brand NAME` and the setup check of several brands (E7,
#16; docs/brands.md item 6): an unknown brand is refused naming the configured ones (exit 2),
each brand's Klaviyo account is checked with its own key, failed jobs are listed, replayed and
purged by brand, and a backfill keeps its brand's tickets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fakeredis
import pytest

from bridge import bootstrap
from bridge.adapters.store import Store
from bridge.brands import load_brands
from bridge.config import Settings
from bridge.domain.brand_scope import scope
from bridge.errors import Permanent
from bridge.ops.setup_check import run_checks
from cli import check, commands
from cli.brand_option import tickets_of
from cli.main import main
from tests.factories import brand_table
from tests.unit.test_setup_check import ENV, FakeKlaviyo, FakeRedis, FakeStore, FakeZendesk

SHOP2_KEY = "pk_shop2_s3cret"
BRANDS = brand_table("shop2", SHOP2_KEY, "shop2-hook-s3cret", ("+18005550199",))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The CLI's environment: the variables' brand and shop2 from a brands file."""
    path = tmp_path / "brands.toml"
    path.write_text(BRANDS)
    values = {**ENV, "BRANDS_FILE": str(path)}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def store(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Store:
    found = Store(fakeredis.FakeRedis())
    monkeypatch.setattr(bootstrap, "store", lambda settings: found)
    found.outcomes.record_failure("klaviyo:01JA", "bridge.inbound_sms", RuntimeError("a"), 3,
                                  1_780_000_000.0)
    with scope("shop2"):
        found.outcomes.record_failure("klaviyo@shop2:01JB", "bridge.inbound_sms",
                                      RuntimeError("b"), 3, 1_780_000_001.0)
    return found


@pytest.mark.parametrize("argv", [["check", "--brand", "nope"],
                                  ["failed", "list", "--brand", "nope"],
                                  ["failed", "replay", "--brand", "nope"],
                                  ["backfill", "--since", "2026-01-01", "--brand", "nope"],
                                  ["provision", "--brand", "nope"]])
def test_an_unknown_brand_is_refused_naming_the_configured_ones(
        env: dict[str, str], argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no brand named 'nope'" in err and "default, shop2" in err


def test_failed_list_of_one_brand_shows_its_jobs_with_a_brand_column(
        store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["failed", "list", "--brand", "shop2"]) == 0
    out = capsys.readouterr().out
    assert "klaviyo@shop2:01JB" in out and "klaviyo:01JA" not in out
    assert out.splitlines()[0].split()[:3] == ["REF", "SOURCE", "BRAND"]
    assert main(["failed", "list"]) == 0
    assert "klaviyo:01JA" in capsys.readouterr().out


def test_failed_purge_all_of_one_brand_keeps_the_others(
        store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["failed", "purge", "--brand", "shop2"]) == 2     # --brand goes with --all
    assert main(["failed", "purge", "--all", "--brand", "shop2"]) == 0
    assert "1 failed job(s) of brand shop2 removed" in capsys.readouterr().out
    assert set(store.outcomes.failed()) == {"klaviyo:01JA"}


def test_failed_replay_of_one_brand_publishes_only_its_jobs(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    published: list[tuple[str, str]] = []
    monkeypatch.setattr(commands, "make_celery", lambda settings: None)
    monkeypatch.setattr(commands, "enqueue", lambda app, task, ref: published.append((task, ref)))
    for ref in ("klaviyo:01JA", "klaviyo@shop2:01JB"):   # the events, as a worker set them aside
        store.client.hset(f"zkb:ev:{ref}", mapping={"state": "failed",
                                                    "kind": "event:klaviyo.sent_sms"})
    assert main(["failed", "replay", "--brand", "shop2"]) == 0
    assert published == [("bridge.inbound_sms", "klaviyo@shop2:01JB")]


class AccountsByKey:
    """Klaviyo accounts the CLI's clients reach, by the API key each is built with."""

    def __init__(self, refused: str | None = None) -> None:
        self.refused, self.keys = refused, []

    def __call__(self, settings: Settings, st: Any = None) -> FakeKlaviyo:
        self.keys.append(settings.klaviyo_api_key)
        refused = settings.klaviyo_api_key == self.refused
        return FakeKlaviyo(Permanent("klaviyo", "GET accounts answered 401", 401)
                           if refused else None)


def test_check_of_one_brand_checks_its_klaviyo_account_with_its_key(
        env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    accounts = AccountsByKey()
    monkeypatch.setattr(bootstrap, "klaviyo_client", accounts)
    assert main(["check", "--brand", "shop2"]) == 0
    out = capsys.readouterr().out
    assert accounts.keys == [SHOP2_KEY]
    assert "✓ Klaviyo API key (brand shop2): the key is accepted" in out
    assert "Zendesk" not in out and "Redis" not in out        # the brand's account only

    monkeypatch.setattr(bootstrap, "klaviyo_client", AccountsByKey(refused=SHOP2_KEY))
    assert main(["check", "--brand", "shop2"]) == 1
    out = capsys.readouterr().out
    assert "✗ Klaviyo API key (brand shop2): Klaviyo rejected the key in klaviyo_api_key of " \
           "brand 'shop2' in BRANDS_FILE" in out
    assert SHOP2_KEY not in out


def test_check_without_a_brand_checks_zendesk_once_and_every_brands_klaviyo(
        env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    accounts = AccountsByKey(refused=SHOP2_KEY)
    monkeypatch.setattr(bootstrap, "klaviyo_client", accounts)
    monkeypatch.setattr(bootstrap, "zendesk_client", lambda settings, st=None: FakeZendesk())
    monkeypatch.setattr(bootstrap, "store", lambda settings: FakeStore(FakeRedis()))
    monkeypatch.setattr(check, "make_celery", lambda settings: None)
    monkeypatch.setattr(check, "workers_seen", lambda app: ["celery@w1"])
    assert main(["check"]) == 1                                  # shop2's key is refused
    out = capsys.readouterr().out
    assert sorted(accounts.keys) == sorted([ENV["KLAVIYO_API_KEY"], SHOP2_KEY])
    assert out.count("Zendesk API user") == 1
    assert "✓ Klaviyo API key: the key is accepted" in out
    assert "✗ Klaviyo API key (brand shop2)" in out and "1 required check(s) failed" in out


def test_the_setup_check_names_each_brands_revision_with_its_field() -> None:
    settings = Settings.from_env(ENV)
    shop2 = Settings.from_env({**ENV, "KLAVIYO_REVISION": "2020-01-01"})
    found = run_checks(settings, FakeStore(FakeRedis()), FakeZendesk(), FakeKlaviyo(),
                       lambda: ["celery@w1"], sleep=lambda s: None,
                       other_brands=[("shop2", shop2, FakeKlaviyo())])
    line = next(c for c in found if c.name == "Klaviyo revision (brand shop2)")
    assert not line.ok and not line.required
    assert "klaviyo_revision of brand 'shop2' in BRANDS_FILE" in line.detail


def test_a_backfill_keeps_its_brands_tickets_and_the_default_the_unmapped_ones(
        env: dict[str, str]) -> None:
    settings = Settings.from_env(env)
    default, shop2 = load_brands(settings, env)
    tickets = {"shop2's": {"brand_id": 8002}, "unmapped": {"brand_id": 777},
               "by number": {"brand_id": None, "external_id": "zkb-sms:+15005550101:+18005550199"},
               "whatsapp": {"external_id": "zkb-wa:+15005550101:+18005550199"},
               "default's": {"brand_id": None}}
    assert [n for n, t in tickets.items() if tickets_of((default, shop2), shop2)(t)] == [
        "shop2's", "by number", "whatsapp"]
    assert [n for n, t in tickets.items() if tickets_of((default, shop2), default)(t)] == [
        "unmapped", "default's"]
    assert all(tickets_of((default,), default)(t) for t in tickets.values())
