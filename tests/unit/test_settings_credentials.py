"""Credentials in Settings: a Zendesk OAuth client as the main path, every secret also from a
file (`<NAME>_FILE`), several webhook secrets during a rotation; secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.adapters.logs import secret_values
from bridge.config import Settings
from bridge.errors import ConfigError

BASE = {"ZENDESK_URL": "https://acme.zendesk.com", "ZENDESK_WEBHOOK_SECRET": "zd-secret",
        "KLAVIYO_API_KEY": "pk_live", "KLAVIYO_WEBHOOK_SECRET": "kl-secret"}
CLIENT = {"ZENDESK_OAUTH_CLIENT_ID": "zkbridge", "ZENDESK_OAUTH_CLIENT_SECRET": "c-s3cret"}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    return refused.value.problems


def test_an_oauth_client_is_a_complete_zendesk_credential_with_default_scope() -> None:
    s = Settings.from_env({**BASE, **CLIENT})
    assert (s.zendesk_oauth_client_id, s.zendesk_oauth_scope) == ("zkbridge", "read write")
    assert not s.zendesk_uses_api_token
    assert "c-s3cret" not in repr(s)


def test_half_an_oauth_client_names_both_variables() -> None:
    [problem] = problems({**BASE, "ZENDESK_OAUTH_CLIENT_ID": "zkbridge"})
    assert "ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET" in problem


def test_no_zendesk_credential_points_to_the_oauth_client_first() -> None:
    [problem] = problems(BASE)
    assert problem.startswith("set ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET")
    assert "2027-04-30" in problem


def test_an_api_token_still_works_and_is_known_as_one() -> None:
    s = Settings.from_env({**BASE, "ZENDESK_EMAIL": "a@acme.test", "ZENDESK_API_TOKEN": "t"})
    assert s.zendesk_uses_api_token


@pytest.mark.parametrize("name", ["ZENDESK_OAUTH_CLIENT_SECRET", "ZENDESK_WEBHOOK_SECRET",
                                  "KLAVIYO_API_KEY", "KLAVIYO_WEBHOOK_SECRET", "OPS_TOKEN",
                                  "ZENDESK_API_TOKEN", "ZENDESK_OAUTH_TOKEN", "REDIS_URL"])
def test_every_secret_can_come_from_a_file(tmp_path: Path, name: str) -> None:
    value = "redis://:pw@redis:6379/0" if name == "REDIS_URL" else "from-a-file-0123456789"
    (tmp_path / "secret").write_text(value + "\n")
    env = {**BASE, **CLIENT}
    env.pop(name, None)
    s = Settings.from_env({**env, f"{name}_FILE": str(tmp_path / "secret")})
    assert getattr(s, name.lower()) == value


def test_a_secret_and_its_file_both_set_or_an_unreadable_file_are_refused(
        tmp_path: Path) -> None:
    (tmp_path / "key").write_text("pk_from_file")
    both = problems({**BASE, **CLIENT, "KLAVIYO_API_KEY_FILE": str(tmp_path / "key")})
    assert both == ["set KLAVIYO_API_KEY or KLAVIYO_API_KEY_FILE, not both"]
    missing = problems({**CLIENT, **{k: v for k, v in BASE.items() if k != "KLAVIYO_API_KEY"},
                        "KLAVIYO_API_KEY_FILE": str(tmp_path / "nope")})
    assert len(missing) == 1 and missing[0].startswith("KLAVIYO_API_KEY_FILE=")
    assert "cannot be read" in missing[0]


def test_several_webhook_secrets_are_all_accepted_during_a_rotation() -> None:
    s = Settings.from_env({**BASE, **CLIENT, "ZENDESK_WEBHOOK_SECRET": "old-one, new-one",
                           "KLAVIYO_WEBHOOK_SECRET": "kl-only"})
    assert s.zendesk_webhook_secrets == ("old-one", "new-one")
    assert s.klaviyo_webhook_secrets == ("kl-only",)


def test_the_log_guard_knows_secrets_from_files_and_each_rotated_secret(tmp_path: Path) -> None:
    (tmp_path / "client").write_text("client-secret-from-file\n")
    env = {"ZENDESK_OAUTH_CLIENT_SECRET_FILE": str(tmp_path / "client"),
           "ZENDESK_WEBHOOK_SECRET": "old-secret-1,new-secret-2"}
    assert set(secret_values(env)) == {"client-secret-from-file", "old-secret-1", "new-secret-2"}
