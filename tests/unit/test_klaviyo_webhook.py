"""`zkbridge provision --brand NAME`: the brand's Klaviyo system webhook pointed at its own route
(E7, #16; bridge/ops/klaviyo_webhook.py, bridge/adapters/klaviyo_admin.py, cli/provision.py).
The adapter's requests are checked against Klaviyo's published OpenAPI file, and its answers
are read in the shape that file documents; over HTTP against the sandbox's Webhooks API:
tests/integration/test_provision_klaviyo_webhook.py."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bridge import bootstrap
from bridge.adapters.klaviyo_admin import KlaviyoAdmin
from bridge.brands import load_brands
from bridge.config import Settings
from bridge.errors import Permanent
from bridge.ops import klaviyo_webhook, provision
from bridge.ops.klaviyo_webhook import TOPICS, ensure_klaviyo_webhook
from cli import commands
from cli import provision as provision_cmd
from tests.sandbox.openapi_check import validate_request, validate_response
from tests.unit.test_cli_brands import BRANDS

SPEC = "klaviyo/openapi-stable.json"
PUBLIC = "https://bridge.example.com"
BOLT_URL = f"{PUBLIC}/webhooks/klaviyo/shop2"


class Answer:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body


class KlaviyoWebhooks:
    """A Klaviyo account's webhooks behind the adapter's funnel: every request is checked
    against the spec, and a listing shows endpoints truncated to their origin, as documented."""

    base_url = "https://a.klaviyo.com"

    def __init__(self, truncate: bool = True) -> None:
        self.hooks: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.truncate = truncate

    def request(self, method: str, path: str, endpoint: str, **kw: Any) -> Answer:
        self.calls.append((method, path))
        if method == "GET":
            return Answer(self._listing())
        validate_request(SPEC, method, "/api/webhooks" + ("/{id}" if method == "PATCH" else ""),
                         kw["json"])
        data = kw["json"]["data"]
        if method == "POST":
            hook_id = f"01HWEBHOOK{len(self.hooks)}"
            self.hooks[hook_id] = {**data["attributes"], "enabled": True, "topics": [
                t["id"] for t in data["relationships"]["webhook-topics"]["data"]]}
            return Answer({"data": {"type": "webhook", "id": hook_id}})
        hook = self.hooks[path.rsplit("/", 1)[1]]
        hook.update(data["attributes"])
        if "relationships" in data:
            hook["topics"] = [t["id"] for t in data["relationships"]["webhook-topics"]["data"]]
        return Answer({})

    def _listing(self) -> dict[str, Any]:
        doc = {"data": [{"type": "webhook", "id": hook_id,
                         "links": {"self": f"{self.base_url}/api/webhooks/{hook_id}/"},
                         "attributes": {
            "name": h["name"], "enabled": h["enabled"],
            "endpoint_url": "https://bridge.example.com" if self.truncate else h["endpoint_url"]},
            "relationships": {"webhook-topics": {"data": [
                {"type": "webhook-topic", "id": t} for t in h["topics"]]}}}
            for hook_id, h in self.hooks.items()]}
        validate_response(SPEC, "GET", "/api/webhooks", 200, doc)
        return doc


def test_a_brands_webhook_is_made_with_its_route_topics_and_secret() -> None:
    account = KlaviyoWebhooks()
    outcome = ensure_klaviyo_webhook(KlaviyoAdmin(account), PUBLIC, "shop2", "shop2-secret")
    assert outcome.action == "created" and BOLT_URL in outcome.note
    [hook] = account.hooks.values()
    assert (hook["name"], hook["endpoint_url"], hook["secret_key"]) == (
        "zkbridge", BOLT_URL, "shop2-secret")
    assert sorted(hook["topics"]) == sorted(TOPICS)


def test_run_again_it_changes_only_what_differs_and_never_the_secret() -> None:
    account = KlaviyoWebhooks(truncate=False)
    api = KlaviyoAdmin(account)
    ensure_klaviyo_webhook(api, PUBLIC, "shop2", "shop2-secret")
    assert ensure_klaviyo_webhook(api, PUBLIC, "shop2", "other").action == "unchanged"
    [hook] = account.hooks.values()
    hook.update(enabled=False, topics=[TOPICS[0]], endpoint_url=f"{PUBLIC}/webhooks/klaviyo")
    again = ensure_klaviyo_webhook(api, PUBLIC, "shop2", "other")
    assert (again.action, again.changed) == ("updated", ("endpoint_url", "enabled", "topics"))
    assert (hook["endpoint_url"], hook["enabled"], hook["secret_key"]) == (
        BOLT_URL, True, "shop2-secret")
    assert sorted(hook["topics"]) == sorted(TOPICS)


def test_an_endpoint_klaviyo_shows_truncated_is_set_again() -> None:
    account = KlaviyoWebhooks(truncate=True)
    api = KlaviyoAdmin(account)
    ensure_klaviyo_webhook(api, PUBLIC, "shop2", "s")
    again = ensure_klaviyo_webhook(api, PUBLIC, "shop2", "s")
    assert again.changed == ("endpoint_url",) and account.calls[-1][0] == "PATCH"


def test_the_default_brands_webhook_keeps_todays_route() -> None:
    assert klaviyo_webhook.endpoint(PUBLIC + "/", "default") == f"{PUBLIC}/webhooks/klaviyo"
    assert klaviyo_webhook.endpoint(PUBLIC, "shop2") == BOLT_URL


def test_the_listing_follows_the_next_link() -> None:
    pages = iter([{"data": [], "links": {"next": "https://a.klaviyo.com/api/webhooks?page=2"}},
                  {"data": [{"type": "webhook", "id": "W2", "attributes": {
                      "name": "zkbridge", "endpoint_url": "https://x", "enabled": True}}]}])
    seen: list[str] = []

    class Paged:
        base_url = "https://a.klaviyo.com"

        def request(self, method: str, path: str, endpoint: str, **kw: Any) -> Answer:
            seen.append(path)
            return Answer(next(pages))

    assert [w["id"] for w in KlaviyoAdmin(Paged()).webhooks()] == ["W2"]
    assert seen == ["/api/webhooks", "/api/webhooks?page=2"]


# --- the command ------------------------------------------------------------------------------
ENV = {"ALLOW_INSECURE_UPSTREAMS": "true", "ZENDESK_URL": "http://127.0.0.1:9",
       "KLAVIYO_BASE_URL": "http://127.0.0.1:9", "ZENDESK_EMAIL": "bridge@acme.test",
       "ZENDESK_API_TOKEN": "zd-token-1", "ZENDESK_WEBHOOK_SECRET": "zd-hook-1",
       "KLAVIYO_API_KEY": "pk_1", "KLAVIYO_WEBHOOK_SECRET": "kl-hook-1",
       "PUBLIC_URL": PUBLIC}


@pytest.fixture
def zendesk_done(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Zendesk half of provision done, its secret matching."""
    report = provision.Report([provision.Outcome("webhook", "unchanged", "Z1")], "zd-hook-1", True)
    monkeypatch.setattr(provision, "provision", lambda *a, **k: report)
    monkeypatch.setattr(bootstrap, "zendesk_admin", lambda settings: None)


def run(tmp_path: Path, argv: list[str]) -> int:
    path = tmp_path / "brands.toml"
    path.write_text(BRANDS)
    settings = Settings.from_env({**ENV, "BRANDS_FILE": str(path)})
    parser = argparse.ArgumentParser()
    commands.add_commands(parser.add_subparsers(dest="command"), datetime.fromisoformat)
    args = parser.parse_args(argv)
    args.brands = load_brands(settings, {"BRANDS_FILE": str(path)})
    return args.run(args, settings)


def test_provision_of_a_brand_points_its_account_at_its_route(
        zendesk_done: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    account, keys = KlaviyoWebhooks(), []

    def admin(http: Any) -> KlaviyoAdmin:
        keys.append(http.session.headers["Authorization"])
        return KlaviyoAdmin(account)

    monkeypatch.setattr(provision_cmd, "KlaviyoAdmin", admin)
    assert run(tmp_path, ["provision", "--brand", "shop2"]) == 0
    out = capsys.readouterr().out
    assert "webhook (id Z1): unchanged" in out                    # one Zendesk webhook for all
    assert f"Klaviyo webhook of brand shop2 (id 01HWEBHOOK0): created; sends the brand's " \
           f"texts to {BOLT_URL}" in out
    assert keys == ["Klaviyo-API-Key pk_shop2_s3cret"]             # shop2's own account
    assert [h["secret_key"] for h in account.hooks.values()] == ["shop2-hook-s3cret"]
    assert "shop2-hook-s3cret" not in out


def test_an_account_that_may_not_manage_webhooks_gets_the_steps_by_hand(
        zendesk_done: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    class Refusing(KlaviyoWebhooks):
        def request(self, method: str, path: str, endpoint: str, **kw: Any) -> Answer:
            raise Permanent("klaviyo", "GET webhooks answered 403: not allowed", 403)

    monkeypatch.setattr(provision_cmd, "KlaviyoAdmin", lambda http: KlaviyoAdmin(Refusing()))
    assert run(tmp_path, ["provision", "--brand", "shop2"]) == 1
    err = capsys.readouterr().err
    assert "only Advanced KDP accounts" in err and f"endpoint {BOLT_URL}" in err
    assert "klaviyo_webhook_secret of brand 'shop2' in BRANDS_FILE" in err
    assert "shop2-hook-s3cret" not in err


def test_provision_without_a_brand_leaves_klaviyo_alone(
        zendesk_done: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_klaviyo(http: Any) -> KlaviyoAdmin:
        raise AssertionError("provision without --brand called Klaviyo")

    monkeypatch.setattr(provision_cmd, "KlaviyoAdmin", no_klaviyo)
    assert run(tmp_path, ["provision"]) == 0
