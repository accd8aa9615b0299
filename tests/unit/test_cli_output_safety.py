"""What the `zkbridge` command prints is safe to print (issue 13): stored text cannot drive the
terminal (C0/C1 controls escaped in `failed list/show`), and `provision` hands the signing
secret over in a file (0600) or, only when asked, on the screen."""

from __future__ import annotations

import argparse
import json
import stat
from datetime import datetime
from pathlib import Path

import fakeredis
import pytest

from bridge import bootstrap
from bridge.adapters.store import Store
from bridge.config import Settings
from bridge.ops import provision
from cli import commands
from cli.commands import SECRET_TO_SET

ENV = {"ALLOW_INSECURE_UPSTREAMS": "true", "ZENDESK_URL": "http://127.0.0.1:9",
       "KLAVIYO_BASE_URL": "http://127.0.0.1:9", "ZENDESK_EMAIL": "bridge@acme.test",
       "ZENDESK_API_TOKEN": "zd-token-1", "ZENDESK_WEBHOOK_SECRET": "zd-hook-1",
       "KLAVIYO_API_KEY": "pk_1", "KLAVIYO_WEBHOOK_SECRET": "kl-hook-1",
       "PUBLIC_URL": "https://bridge.example.com"}
HOSTILE = "boom \x1b]0;pwned\x07\x1b[2J and \x9b31m C1 \x85 next"
CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) != "\n"]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    commands.add_commands(parser.add_subparsers(dest="command"), datetime.fromisoformat)
    args = parser.parse_args(argv)
    return args.run(args, Settings.from_env(ENV))


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    found = Store(fakeredis.FakeRedis())
    monkeypatch.setattr(bootstrap, "store", lambda settings: found)
    found.outcomes.record_failure("klaviyo:01JX", "bridge.inbound_sms", RuntimeError(HOSTILE), 3,
                                  1_780_000_000.0)
    return found


@pytest.mark.parametrize("argv", [["failed", "list"], ["failed", "show", "klaviyo:01JX"]])
def test_failed_jobs_print_no_control_characters(store: Store, argv: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert "pwned" in out or "boom" in out
    assert not [c for c in CONTROLS if c in out], repr(out)
    assert "\\x1b" in out


@pytest.mark.parametrize("argv", [["failed", "list", "--json"],
                                  ["failed", "show", "klaviyo:01JX", "--json"]])
def test_json_output_escapes_c1_controls_and_stays_json(store: Store, argv: list[str],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert not [c for c in CONTROLS if c in out], repr(out)
    assert json.loads(out.splitlines()[0])["message"].startswith("boom \x1b]0;pwned")


@pytest.fixture
def differing_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = "zendesk-made-signing-secret-77ab"
    report = provision.Report([], secret=secret, secret_matches=False)
    monkeypatch.setattr(provision, "provision", lambda *a, **k: report)
    monkeypatch.setattr(bootstrap, "zendesk_admin", lambda settings: None)
    return secret


def test_provision_never_prints_the_signing_secret_unasked(
        differing_secret: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["provision"]) == 1
    out = capsys.readouterr()
    assert differing_secret not in out.out + out.err
    assert "--secret-file" in out.err and "--show-secret" in out.err


def test_provision_writes_the_secret_to_a_private_file_or_shows_it_when_asked(
        differing_secret: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "secret"
    # 3: done, but the receiver refuses the webhook's deliveries until the secret is set
    assert run(["provision", "--secret-file", str(path)]) == SECRET_TO_SET == 3
    assert path.read_text().strip() == differing_secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert differing_secret not in capsys.readouterr().out
    assert run(["provision", "--show-secret"]) == SECRET_TO_SET
    assert differing_secret in capsys.readouterr().out
