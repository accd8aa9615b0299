"""`zkbridge provision --brand NAME` against the sandbox over HTTP (#16, rule E7): the real
Klaviyo client (bridge/adapters/klaviyo_admin.py) and the step that uses it
(bridge/ops/klaviyo_webhook.py) make each brand's system webhook in ITS Klaviyo account, with its
route, topics and secret, change it on a later run without making a second one, and tell an
account without Advanced KDP how to make it by hand. Every call the client makes here is
checked against Klaviyo's OpenAPI file, both ways (tests/unit/test_klaviyo_webhook.py checks
the same client against a fake)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.adapters.klaviyo import KlaviyoClient
from bridge.adapters.klaviyo_admin import KlaviyoAdmin
from bridge.brands import settings_and_brands
from bridge.config import Settings
from bridge.ops.klaviyo_webhook import TOPICS, WEBHOOK_NAME, ensure_klaviyo_webhook
from cli import main
from sandbox.config import SandboxConfig
from tests.factories import brand_table
from tests.sandbox.klaviyo_support import Env, two_accounts_fixture
from tests.sandbox.openapi_check import load_spec, validate_request, validate_response

SPEC = "klaviyo/openapi-stable.json"
ACME_KEY, BOLT_KEY = "pk_it_acme_provision_3e1a", "pk_it_bolt_provision_9b0c"
ACME_SECRET, BOLT_SECRET = "it-acme-hook-secret-41d2", "it-bolt-hook-secret-c7e5"
PUBLIC = "https://bridge.example.test"
BOLT_URL, ACME_URL = f"{PUBLIC}/webhooks/klaviyo/bolt", f"{PUBLIC}/webhooks/klaviyo"


env_once, env = two_accounts_fixture(ACME_KEY, BOLT_KEY)


@pytest.fixture(scope="module", autouse=True)
def spec_loaded() -> None:
    load_spec(SPEC)


class Conforming:
    """A response hook on the client's session: each Webhooks API call, its body and the
    answer, checked against the spec; the calls are kept as (method, path)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        sent = resp.request
        path = (sent.path_url or "").split("?")[0]
        template = "/api/webhooks/{id}" if path.count("/") > 2 else path
        self.calls.append((str(sent.method), path))
        if sent.body:
            validate_request(SPEC, str(sent.method), template, json.loads(sent.body))
        validate_response(SPEC, str(sent.method), template, resp.status_code,
                          resp.json() if resp.content else b"")


def admin(env: Env, key: str, seen: Conforming | None = None) -> KlaviyoAdmin:
    """The client as the command builds it (the brand's key, the pinned revision)."""
    client = KlaviyoClient(env.base, api_key=key, revision=Settings.klaviyo_revision)
    client.session.hooks["response"].append(seen or Conforming())
    return KlaviyoAdmin(client.http)


def kept(env: Env, account: str) -> list[dict[str, Any]]:
    """The account's webhooks as the sandbox keeps them: whole URL, secret."""
    return list(env.admin("GET", "/_sandbox/klaviyo/webhooks", params={"account": account}))


def test_the_first_run_makes_the_brands_webhook_in_its_own_account(env: Env) -> None:
    outcome = ensure_klaviyo_webhook(admin(env, BOLT_KEY), PUBLIC, "bolt", BOLT_SECRET)
    assert outcome.action == "created" and BOLT_URL in outcome.note
    [hook] = kept(env, "bolt")
    assert (hook["id"], hook["name"], hook["endpoint_url"], hook["secret_key"],
            hook["enabled"]) == (outcome.id, WEBHOOK_NAME, BOLT_URL, BOLT_SECRET, True)
    assert sorted(hook["topics"]) == sorted(TOPICS)
    assert kept(env, "acme") == []


def test_a_second_run_changes_it_and_makes_no_second_one(env: Env) -> None:
    ensure_klaviyo_webhook(admin(env, BOLT_KEY), PUBLIC, "bolt", BOLT_SECRET)
    seen = Conforming()
    again = ensure_klaviyo_webhook(admin(env, BOLT_KEY, seen), PUBLIC, "bolt", "another-secret")
    [hook] = kept(env, "bolt")
    # Klaviyo shows the endpoint truncated, so it is set again; the secret is never rewritten
    assert (again.action, again.changed, again.id) == ("updated", ("endpoint_url",), hook["id"])
    assert [method for method, _ in seen.calls] == ["GET", "PATCH"]
    assert (hook["endpoint_url"], hook["secret_key"]) == (BOLT_URL, BOLT_SECRET)


def test_a_run_puts_back_what_was_changed_in_klaviyo(env: Env) -> None:
    made = ensure_klaviyo_webhook(admin(env, BOLT_KEY), PUBLIC, "bolt", BOLT_SECRET)
    env.api("PATCH", f"/api/webhooks/{made.id}",
            headers={"Authorization": f"Klaviyo-API-Key {BOLT_KEY}",
                     "revision": Settings.klaviyo_revision},
            json={"data": {"type": "webhook", "id": made.id,
                           "attributes": {"enabled": False,
                                          "endpoint_url": "https://old.example.test/x"},
                           "relationships": {"webhook-topics": {"data": [
                               {"type": "webhook-topic", "id": TOPICS[0]}]}}}}).raise_for_status()
    again = ensure_klaviyo_webhook(admin(env, BOLT_KEY), PUBLIC, "bolt", BOLT_SECRET)
    assert again.changed == ("endpoint_url", "enabled", "topics")
    [hook] = kept(env, "bolt")
    assert (hook["endpoint_url"], hook["enabled"], sorted(hook["topics"])) == (
        BOLT_URL, True, sorted(TOPICS))


def test_its_webhook_is_found_on_a_later_page_of_the_listing(env: Env) -> None:
    api = admin(env, BOLT_KEY)
    others = [api.create_webhook({"name": f"other {n}", "endpoint_url": f"https://o{n}.test",
                                  "secret_key": "s"}, [TOPICS[0]]) for n in range(10)]
    made = ensure_klaviyo_webhook(api, PUBLIC, "bolt", BOLT_SECRET)
    listed = api.webhooks()
    assert [w["id"] for w in listed] == [*others, made.id]
    assert sorted(listed[-1]["topics"]) == sorted(TOPICS)        # read past the first page
    again = ensure_klaviyo_webhook(api, PUBLIC, "bolt", BOLT_SECRET)
    assert (again.action, again.id) == ("updated", made.id)
    assert len(kept(env, "bolt")) == 11


# --- the command ------------------------------------------------------------------------------
def command_env(env: Env, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The command's environment: the default brand on acme's account (the variables) and
    brand bolt on bolt's (BRANDS_FILE); Zendesk is the sandbox's too."""
    brands = tmp_path / "brands.toml"
    brands.write_text(brand_table("bolt", BOLT_KEY, BOLT_SECRET, ("+18005550200",)))
    return {"ALLOW_INSECURE_UPSTREAMS": "true", "ZENDESK_URL": env.base,
            "KLAVIYO_BASE_URL": env.base, "ZENDESK_EMAIL": "bridge@acme-shop.test",
            "ZENDESK_API_TOKEN": SandboxConfig.zendesk_api_token,
            "ZENDESK_WEBHOOK_SECRET": "it-zendesk-secret-not-yet-set",
            "KLAVIYO_API_KEY": ACME_KEY, "KLAVIYO_WEBHOOK_SECRET": ACME_SECRET,
            "PUBLIC_URL": PUBLIC, "BRANDS_FILE": str(brands), **overrides}


def zkbridge(environment: dict[str, str], *argv: str) -> int:
    """`zkbridge ...` as cli/main.py runs it, with this environment instead of the process's."""
    args = main.parser().parse_args(list(argv))
    settings, args.brands = settings_and_brands(environment)
    return int(args.run(args, settings))


def test_provision_points_each_brands_account_at_its_own_route(
        env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret_file = tmp_path / "zendesk-secret"
    first = command_env(env, tmp_path)
    assert zkbridge(first, "provision", "--brand", "bolt",
                    "--secret-file", str(secret_file)) == 3   # Zendesk's secret still to set
    out = capsys.readouterr().out
    [bolt] = kept(env, "bolt")
    assert f"Klaviyo webhook of brand bolt (id {bolt['id']}): created; sends the brand's " \
           f"texts to {BOLT_URL}" in out
    configured = command_env(env, tmp_path, ZENDESK_WEBHOOK_SECRET=secret_file.read_text())
    assert zkbridge(configured, "provision", "--brand", "default") == 0
    assert zkbridge(configured, "provision", "--brand", "bolt") == 0
    out = capsys.readouterr().out
    assert f"Klaviyo webhook of brand bolt (id {bolt['id']}): updated (endpoint_url)" in out
    assert BOLT_SECRET not in out and ACME_SECRET not in out
    assert [(h["endpoint_url"], h["secret_key"]) for h in kept(env, "bolt")] == [
        (BOLT_URL, BOLT_SECRET)]
    assert [(h["endpoint_url"], h["secret_key"]) for h in kept(env, "acme")] == [
        (ACME_URL, ACME_SECRET)]


def test_an_account_without_advanced_kdp_gets_the_steps_by_hand(
        env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env.admin("POST", "/_sandbox/klaviyo/settings", params={"account": "bolt"},
              json={"webhooks_api_enabled": False})
    assert zkbridge(command_env(env, tmp_path), "provision", "--brand", "bolt",
                    "--secret-file", str(tmp_path / "zendesk-secret")) == 1
    out, err = capsys.readouterr()
    assert "webhook (id " in out                         # the Zendesk half was done
    assert "only Advanced KDP accounts" in err and f"endpoint {BOLT_URL}" in err
    assert ", ".join(TOPICS) in err
    assert "klaviyo_webhook_secret of brand 'bolt' in BRANDS_FILE" in err
    assert BOLT_SECRET not in out + err
    assert kept(env, "bolt") == []
    calls = env.admin("GET", "/_sandbox/calls")["calls"]
    assert calls.get("klaviyo GET /api/webhooks") == 1        # refused once, not retried
    assert "klaviyo POST /api/webhooks" not in calls
